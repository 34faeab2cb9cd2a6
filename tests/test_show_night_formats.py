"""A whole show night over real localhost HTTP, the app beside the MTN sandbox that calls it back: an organiser sets a
two-round show up (heats at one price, a final with a bundle and a jury), a producer opens and closes the lines from
the control room's API with payments arriving on both sides of the close (the late one refunded by MTN and its voter
told), a viewer's free vote a round over USSD counted as a paid one, the heats decide an elimination, the final is
blended with the jury, and the winner's certificate verifies on /verify from its QR code."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.core.money_out.late_refunds import refund_late_orders
from gateway.core.money_out.refunds_sent import refunds_pass
from gateway.db.engine import Sessions
from gateway.db.models import ContestStatus, OrderStatus, Refund, RefundState
from gateway.kit.keys import PROVIDERS, SESSIONS
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.channels.ussd.sessions import hop
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.live_app import SettlingOrders, app_beside

T = TypeVar("T")
DELAYED = "+237670000454"  # the sandbox's magic number: MTN decides after `long_delay`
USSD_CODE = "*384*999#"  # the test contest's


@dataclass
class Show(SettlingOrders):
    client: TestClient
    control: SandboxControl
    sessions: Sessions
    slug: str
    contest_id: int
    organiser: dict[str, str]

    @property
    def api(self) -> str:
        return f"/api/v1/admin/contests/{self.contest_id}"

    async def admin(self, path: str, body: dict[str, Any], status: int = 200, method: str = "POST") -> dict[str, Any]:
        response = await self.client.request(method, self.api + path, json=body, headers=self.organiser)
        assert response.status == status, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def vote(self, code: str, quantity: int, msisdn: str, status: int = 201) -> dict[str, Any]:
        response = await self.client.post(f"/api/v1/contests/{self.slug}/votes", json={
            "candidate": code, "quantity": quantity, "provider": "mtn", "msisdn": msisdn},
            headers={"X-Forwarded-For": f"41.202.{int(msisdn[-6:-3]) % 250}.{int(msisdn[-3:]) % 250 + 1}"})
        body: dict[str, Any] = await response.json()
        assert response.status == status, body
        await self.client.app[STARTS].wait_idle()
        return body

    async def paid(self, code: str, quantity: int, msisdn: str) -> uuid.UUID:
        order_id = uuid.UUID((await self.vote(code, quantity, msisdn))["order"]["id"])
        assert (await self.settled(order_id)).status is OrderStatus.PAID
        return order_id

    async def free_vote(self, code: str, msisdn: str) -> str:
        """A viewer's free vote over USSD (the session's number proves it): the last screen."""
        session = f"ATUid_{uuid.uuid4().hex}"
        screens = [await hop(self.client, text, session_id=session, msisdn=msisdn, code=USSD_CODE)
                   for text in ("", "5", f"5*{code}")]
        return screens[-1]

    async def round_board(self, number: int) -> dict[str, int]:
        listed = await (await self.client.get(self.api + "/rounds", headers=self.organiser)).json()
        return {row["code"]: row["votes"] for row in listed["rounds"][number - 1]["board"]}


async def until(check: Callable[[], Awaitable[T | None]], timeout: float = 15.0) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await check()) is None:
        assert asyncio.get_running_loop().time() < deadline, "the condition never came"
        await asyncio.sleep(0.1)
    return found


@pytest.fixture
async def show(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Show]:
    control = SandboxControl(success_delay=0.05, long_delay=3.0)
    async with TestServer(create_sandbox_app(control)) as sandbox, app_beside(sandbox, settings) as client:
        # The grace after the close is short here so that a payment can be late within the test: 1 s.
        contest = await make_contest(sessions, slug="star-search", candidates=3, status=ContestStatus.DRAFT,
                                     providers=["mtn"], late_grace_seconds=1, free_votes_per_day=1,
                                     free_votes_per="round", free_vote_weight="counted")
        organiser = bearer(await api_tokens(client, await make_account(sessions, "owner", "producer@example.com")))
        yield Show(client, control, client.app[SESSIONS], contest.slug, contest.id, organiser)


async def test_a_two_round_show_from_its_setup_to_the_winners_certificate(show: Show) -> None:
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    await show.admin("/rounds", {"name": "Heats", "price": "100", "closes_at": later}, status=201)
    await show.admin("/rounds", {"name": "Final", "price": "200", "closes_at": later,
                                 "price_tiers": [{"votes": 5, "amount": 800}]}, status=201)
    # The final is blended with a jury, half and half, set before the show opens.
    await show.admin("/jury/formula", {"public_weight_pct": 50, "min_points": 0, "max_points": 10}, method="PUT")
    juror = await make_account(show.sessions, "jury", "juror@example.com")
    await show.admin("/jury/jurors", {"email": juror.email}, status=201)

    # Heats: lines open from the control room; votes at the heats' price.
    await show.admin("/rounds/1/open", {})
    await show.paid("01", 5, "+237670000101")
    await show.paid("02", 3, "+237670000102")
    await show.paid("03", 1, "+237670000103")
    assert (await show.free_vote("01", "237670000109")).startswith("END Merci! Votre vote gratuit pour 01")
    late = uuid.UUID((await show.vote("02", 4, DELAYED))["order"]["id"])  # MTN confirms it 3 s from now
    on_time = await show.paid("03", 1, "+237670000104")  # confirmed before the close

    await show.admin("/lines/close", {"countdown_seconds": 0})  # "lines are closed"
    refused = await show.vote("01", 1, "+237670000105", status=422)
    assert refused["error"]["code"] == "contest_closed"
    assert (await show.settled(late, timeout=10)).status is OrderStatus.LATE  # past the close and its grace
    assert (await show.settled(on_time)).status is OrderStatus.PAID
    page = await (await show.client.get(f"/orders/{late}", params={"lang": "en"})).text()
    assert "Too late to count" in page  # the voter is told why
    registry = show.client.app[PROVIDERS]
    assert await refund_late_orders(show.sessions, registry, datetime.now(UTC) + timedelta(minutes=1))

    async def refunded() -> Refund | None:
        await refunds_pass(show.sessions, registry, datetime.now(UTC) + timedelta(minutes=5))
        async with show.sessions() as session:
            refund = await session.scalar(select(Refund).where(Refund.order_id == late))
        return refund if refund is not None and refund.state is RefundState.SUCCEEDED else None

    assert (await until(refunded)).amount == 400  # MTN gave the late payment back

    # Who goes through, once the grace has passed: the first two by the heats' result, the free vote counted as a
    # paid one; 03 leaves (2 votes to 3).
    decided = await until(lambda: decide(show))
    assert {row["code"]: row["went_through"] for row in decided["board"]} == {"01": True, "02": True, "03": False}

    # The final: its own price and bundle; its board starts from zero with the two finalists.
    await show.admin("/rounds/2/open", {})
    bundle = await show.vote("02", 5, "+237670000106")
    assert bundle["order"]["amount"] == 800  # the bundle's amount is what MTN is asked
    assert (await show.settled(uuid.UUID(bundle["order"]["id"]))).status is OrderStatus.PAID
    await show.paid("01", 7, "+237670000107")
    assert (await show.free_vote("01", "237670000109")).startswith("END Merci! Votre vote gratuit")  # one a round
    eliminated = await show.vote("03", 1, "+237670000108", status=422)  # offered nowhere
    assert eliminated["error"]["code"] == "candidate_not_active"
    assert await show.round_board(2) == {"01": 8, "02": 5}
    assert await show.round_board(1) == {"01": 6, "02": 3, "03": 2}  # the heats keep their own figures

    juror_headers = bearer(await api_tokens(show.client, juror))
    scored = await show.client.put(f"/api/v1/admin/jury/{show.contest_id}/scores",
                                   json={"points": {"01": 2, "02": 10}}, headers=juror_headers)
    assert scored.status == 200, await scored.text()
    await show.admin("/lines/close", {"countdown_seconds": 0})
    await show.admin("/jury/reveal", {"confirm": True})
    final = await until(lambda: decide(show, number=2, places=1))
    # 01 has more votes (8 to 5), but the jury's 10 points to 2 make 02 the winner of the blend.
    assert [row["code"] for row in final["board"] if row["went_through"]] == ["02"]

    # The winner's certificate, from the final's signed sheet: its QR address verifies on /verify.
    listed = await show.client.get(f"{show.api}/certificates", params={"sheet": str(final["sheet_id"]), "top": "1"},
                                   headers=show.organiser)
    assert listed.status == 200, await listed.text()
    [winner] = (await listed.json())["certificates"]
    assert winner["code"] == "02" and winner["place"] == 1
    pdf = await show.client.get(winner["pdf"], headers=show.organiser)
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF")
    address = urlsplit(winner["verify_url"])  # the QR's address, on the app's own origin
    verified = await show.client.get(f"{address.path}?{address.query}")
    assert verified.status == 200, await verified.text()
    await assert_tally_invariant(show.sessions, show.contest_id)
    assert await tallies(show.sessions, show.contest_id) == {"01": 12, "02": 8, "03": 2}


async def decide(show: Show, number: int = 1, places: int = 2) -> dict[str, Any] | None:
    """The round decided by its result, or None while its late payments may still count."""
    response = await show.client.post(f"{show.api}/rounds/{number}/decide", json={"places": places},
                                      headers=show.organiser)
    if response.status == 409 and (await response.json())["error"]["code"] == "late_payments_may_count":
        return None
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body
