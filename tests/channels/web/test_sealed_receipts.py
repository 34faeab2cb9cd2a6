"""A sealed contest's receipts say nothing of others' activity until it is closed: no ledger sequence numbers
(two of one's own votes would show how many orders came in between) and no checkpoint counts, on the JSON
look-up, the /verify page and the contest page alike. Once closed, the full standing comes back."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from gateway.core.orders import counting
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, VoteOrder
from tests.factories import RULES_OFF, make_contest, place

MINE = "+237670000001"


async def counted(sessions: Sessions, contest: Contest, code: str, msisdn: str) -> VoteOrder:
    order = await place(sessions, contest, code, quantity=2, msisdn=msisdn)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, f"MTN-{order.id}",
                                   provider=order.provider)
    return order


def reference(order: VoteOrder) -> str:
    return order.id.hex[:8].upper()


async def receipt(client: TestClient, order: VoteOrder) -> dict[str, Any]:
    response = await client.get(f"/api/v1/receipts/{reference(order)}")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_a_sealed_contests_receipts_show_no_sequence_numbers_or_checkpoint_counts_until_close(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=RULES_OFF, board_sealed=True)
    first = await counted(sessions, contest, "01", MINE)
    for n in range(3):  # others' orders, between two of mine
        await counted(sessions, contest, "02", f"+23767000010{n}")
    second = await counted(sessions, contest, "01", MINE)
    async with sessions.begin() as session:
        await ledger.take_checkpoint(session, contest.id, "hourly")

    for order in (first, second):
        body = await receipt(client, order)
        assert body["outcome"] == "counted"
        assert [(e["seq"], e["kind"], e["quantity"]) for e in body["ledger_entries"]] == [(None, "counted", 2)]
        assert body["checkpoint"]["entries"] is None and len(body["checkpoint"]["head"]) == 64
        assert body["sealed"] is True
    page = await (await client.get(f"/verify?reference={reference(second)}&lang=en")).text()
    assert "Your vote counted." in page and "Entry no." not in page and "entries:" not in page
    assert "the entries&#39; numbers and the checkpoints&#39; counts are shown then" in page
    contest_page = await (await client.get(f"/c/{contest.slug}?lang=en")).text()
    assert "Public vote ledger" in contest_page and "entries:" not in contest_page

    async with sessions.begin() as session:  # the organiser closes it: the board, and the numbers, open
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status=ContestStatus.CLOSED))
    mine = [await receipt(client, order) for order in (first, second)]
    assert [body["sealed"] for body in mine] == [False, False]
    assert [body["ledger_entries"][0]["seq"] for body in mine] == [1, 5]
    assert [body["checkpoint"]["entries"] for body in mine] == [5, 5]
    page = await (await client.get(f"/verify?reference={reference(second)}&lang=en")).text()
    assert "Entry no. 5" in page and "entries: 5" in page
