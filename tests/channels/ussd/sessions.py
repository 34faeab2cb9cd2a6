"""What Africa's Talking sends the USSD routes, for the test_routes_* modules: a session's forms hop by hop, and
the app paying through the MTN and Orange sandboxes (`phones`, conftest.py), with the prompts they were asked to
push."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from gateway.db.engine import Sessions
from gateway.db.models import VoteOrder
from payments.sandbox.mtn import MtnState
from payments.sandbox.orange.state import OrangeState

DEMO_CODE = "*384*123#"
MTN_NUMBER = "+237670000001"
ORANGE_NUMBER = "+237690000001"


def form(text: str, session_id: str = "ATUid_1", msisdn: str = MTN_NUMBER, code: str = DEMO_CODE) -> dict[str, str]:
    return {"sessionId": session_id, "serviceCode": code, "phoneNumber": msisdn, "networkCode": "62401",
            "text": text}


async def hop(client: TestClient, text: str, **fields: str) -> str:
    response = await client.post("/ussd/africastalking", data=form(text, **fields))
    assert response.status == 200 and response.content_type == "text/plain", await response.text()
    body = await response.text()
    assert body.startswith(("CON ", "END ")) and len(body) <= 160
    return body


def prefixes(path: str) -> Iterator[str]:
    """What AT sends hop by hop for a path: "", "1", "1*07", …"""
    parts = path.split("*")
    yield ""
    for end in range(1, len(parts) + 1):
        yield "*".join(parts[:end])


async def dial(client: TestClient, path: str, **fields: str) -> list[str]:
    return [await hop(client, text, **fields) for text in prefixes(path)]


async def orders(sessions: Sessions) -> list[VoteOrder]:
    async with sessions() as session:
        return list(await session.scalars(select(VoteOrder).order_by(VoteOrder.created_at)))


@dataclass
class Phones:
    """The payment prompts the MTN and Orange sandboxes were asked to push, by payer number."""

    mtn: MtnState
    orange: OrangeState

    def prompted(self) -> list[str]:
        numbers = [c.request.payer.partyId for c in self.mtn.collections.values()]
        numbers += [p.order.subscriberMsisdn for p in self.orange.mp_payments.values() if p.order]
        return sorted(numbers)


def phone_app(settings: Settings, phones: tuple[Phones, str], **changes: object) -> web.Application:
    """The app paying through the sandboxes of `phones`; its prompts go out 0.01 s after the reply, unless
    `ussd_push_delay_seconds` says otherwise."""
    return create_app(settings.model_copy(update={"sandbox_url": phones[1], "ussd_push_delay_seconds": 0.01,
                                                  **changes}))


@pytest.fixture(name="client")
async def phone_client(clean: None, settings: Settings, phones: tuple[Phones, str]) -> AsyncIterator[TestClient]:
    """The app with the provider sandboxes on localhost: a confirmed vote really pushes a prompt.

    The route tests' `client`, in place of tests/conftest.py's: they import it from here, since in this folder's
    conftest.py it would replace that one for the simulator and bench tests too."""
    app = phone_app(settings, phones)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def prompted(client: TestClient, phones: tuple[Phones, str]) -> list[str]:
    """Payer numbers that got a payment prompt, once the pushes owed after the replies are done."""
    await client.app[STARTS].wait_idle()
    return phones[0].prompted()
