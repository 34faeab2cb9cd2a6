"""MTN's account balances against the books, through the sandbox: the first reading is a starting point; the next
ones move as the books did; an edit the per-reference check found in the same pass explains its own move; money
that moved with nothing in the books to say why is a difference, kept once for an owner to see."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from gateway.core.money_out.balance_check import BalanceReport, check_balances
from gateway.core.money_out.money_check import recent_differences
from gateway.core.money_out.money_reconciliation import reconcile_money
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.db.models import Payout, ProviderBalance
from payments.sandbox.mtn_disbursement import STARTING_BALANCE
from tests.core.money_out.money_day import Mtn, a_day_of_money, edit, no_pace, paid, paid_at_mtn


def by_account(reports: list[BalanceReport]) -> dict[str, tuple[int | None, int | None, int]]:
    assert all(report.currency == "XAF" for report in reports)
    return {report.account: (report.balance, report.gap, report.explained) for report in reports}


async def test_balances_move_with_the_books_and_an_edit_found_meanwhile_explains_itself(
        sessions: Sessions, mtn: Mtn) -> None:
    first, _ = await a_day_of_money(sessions, mtn)  # 1,000 and 300 XAF paid, a payout of 500 XAF
    assert by_account(await check_balances(sessions, mtn.registry, "mtn")) == {
        "collection": (1300, None, 0), "disbursement": (STARTING_BALANCE - 500, None, 0)}
    await paid(sessions, mtn, 2)
    assert by_account(await check_balances(sessions, mtn.registry, "mtn")) == {
        "collection": (1500, 0, 0), "disbursement": (STARTING_BALANCE - 500, 0, 0)}
    await edit(mtn, first, amount="900")  # MTN's records: 900 of the 1,000 XAF came in
    report = await reconcile_money(sessions, mtn.registry, "mtn", datetime.now(UTC).date(), no_pace)
    assert [gap.what for gap in report.new] == ["amount"]
    readings = await check_balances(sessions, mtn.registry, "mtn", report.new)
    assert by_account(readings)["collection"] == (1400, 0, -100)
    assert "moved as the books did since the last reading, given the difference(s) above (-100)" in \
        readings[0].summary()
    async with sessions() as session:
        assert [line for _, _, line in await recent_differences(session)] == [report.new[0].line()]
        assert await session.scalar(select(ProviderBalance.id).order_by(ProviderBalance.id.desc()).limit(1)) == 6


async def test_money_moved_with_nothing_in_the_books_to_say_why_is_a_difference_for_a_person(
        sessions: Sessions, mtn: Mtn) -> None:
    _, abandoned = await a_day_of_money(sessions, mtn)
    await check_balances(sessions, mtn.registry, "mtn")
    async with sessions() as session:
        payout = await session.scalar(select(Payout.id))
    await edit(mtn, abandoned, status="SUCCESSFUL")  # 200 XAF MTN took after we gave up on it
    await edit(mtn, str(payout), status="FAILED")  # the 500 XAF transfer back in the account
    readings = by_account(await check_balances(sessions, mtn.registry, "mtn"))  # no per-reference pass to explain
    assert readings == {"collection": (1500, 200, 0), "disbursement": (STARTING_BALANCE, 500, 0)}
    assert by_account(await check_balances(sessions, mtn.registry, "mtn")) == {  # the new starting point
        "collection": (1500, 0, 0), "disbursement": (STARTING_BALANCE, 0, 0)}
    async with sessions() as session:
        shown = [(target, line) for _, target, line in await recent_differences(session)]
    assert shown == [
        ("balance:mtn:disbursement:XAF", "balance: mtn disbursement account, XAF: 10000000 held, 500 more than the "
         "books explain since the last reading (money moved by hand? a fee?)"),
        ("balance:mtn:collection:XAF", "balance: mtn collection account, XAF: 1500 held, 200 more than the books "
         "explain since the last reading (money moved by hand? a fee?)")]


async def test_a_payment_on_its_way_is_no_difference_whichever_side_of_the_reading_it_lands(
        sessions: Sessions, mtn: Mtn) -> None:
    await a_day_of_money(sessions, mtn)
    await check_balances(sessions, mtn.registry, "mtn")
    order, _, txn_id = await paid_at_mtn(sessions, mtn, 4)  # in MTN's balance, our books still waiting for its word
    assert by_account(await check_balances(sessions, mtn.registry, "mtn"))["collection"] == (1700, 0, 0)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, txn_id,
                                   provider="mtn")  # its word arrives: in the books now
    assert by_account(await check_balances(sessions, mtn.registry, "mtn"))["collection"] == (1700, 0, 0)
