""""Didn't get it? Send again" pushes a new prompt only on Daraja's documented word that the last one is over unpaid
(cancelled, timed out, expired, no money, a wrong PIN, not sent): a code Daraja never documented, or an answer with no
ResultCode at all, may hide a prompt still open on the phone, so nothing is sent and the voter is told to wait for it
or ask again later. Our app and the Daraja sandbox over localhost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.core.money_in.collections import load_collection
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus
from gateway.kit.keys import PROVIDERS
from payments.mpesa.results import BEING_PROCESSED
from tests.payments.mpesa.mpesa_live import LiveMpesa, live_mpesa
from tests.payments.mpesa.test_mpesa_send_again import aged, page, send_again

# The sandbox's numbers whose prompt ends with each of Daraja's final codes.
FINAL = {"1032": "+254712000451", "1037": "+254712000452", "1019": "+254712000459", "1": "+254712000455",
         "2001": "+254712000456", "1025": "+254712000460", "9999": "+254712000461"}
UNDOCUMENTED_CODE = "+254712000462"  # its prompt's result is 4999, a code Daraja never documented
NO_RESULT_CODE = "+254712000463"  # its prompt's query answers no ResultCode at all


@pytest.fixture
async def live(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[LiveMpesa]:
    async with live_mpesa(settings, sessions) as running:
        live = running
        live.control.drop_callbacks = True  # the prompt's callback is lost: the order still waits
        yield live


async def prompt_answered(live: LiveMpesa, order_id: uuid.UUID) -> str:
    """Wait until Daraja's query no longer says the prompt is being processed; its raw word then."""
    async with live.sessions() as session:
        loaded = await load_collection(session, order_id)
    assert loaded is not None
    provider = live.client.app[PROVIDERS].for_order("mpesa", "web")
    for _ in range(200):
        said = (await provider.fetch_status(loaded[1])).raw_status
        if said != BEING_PROCESSED:
            return said
        await asyncio.sleep(0.02)
    raise AssertionError("the prompt was never answered")


@pytest.mark.parametrize("code", sorted(FINAL))
async def test_each_final_code_sends_a_new_prompt(live: LiveMpesa, code: str) -> None:
    order_id = await live.vote(FINAL[code], quantity=2)
    assert await prompt_answered(live, order_id) == code
    first = (await aged(live, order_id)).provider_data["checkout_request_id"]
    assert "A new prompt is on its way to your phone." in await send_again(live, order_id)
    await live.client.app[STARTS].wait_idle()
    after = await tables.get_order(live.sessions, order_id)
    assert after.status is OrderStatus.PENDING
    assert [kept["checkout_request_id"] for kept in after.provider_data["earlier_starts"]] == [first]
    assert after.provider_data["checkout_request_id"] not in (None, first)


UNSURE = "Your last prompt may still reach your phone: wait for it, or ask again in a minute."
# An answer with no ResultCode says nothing of the prompt: it is taken as still open, as a query answered "being
# processed" is.
STILL_OPEN = "The prompt is still open on your phone: enter your PIN there."


@pytest.mark.parametrize(("number", "said", "told"), [(UNDOCUMENTED_CODE, "4999", UNSURE),
                                                       (NO_RESULT_CODE, "unknown", STILL_OPEN)])
async def test_an_undocumented_or_absent_code_sends_nothing_and_says_to_wait(live: LiveMpesa, number: str,
                                                                             said: str, told: str) -> None:
    order_id = await live.vote(number, quantity=1)
    assert await prompt_answered(live, order_id) == said
    before = await aged(live, order_id)
    assert told in await send_again(live, order_id)
    await live.client.app[STARTS].wait_idle()
    after = await tables.get_order(live.sessions, order_id)
    assert after.status is OrderStatus.PENDING and after.provider_data == before.provider_data
    assert "earlier_starts" not in after.provider_data  # no second prompt beside one that may be open
    french = await page(live, order_id, "fr", again="unsure")
    assert "Votre dernière demande peut encore arriver sur votre téléphone" in french
