"""The books against MTN's records through the sandbox: a day of payments, a refund and a payout agrees; an edit of
one transaction in the sandbox (an amount, a status) is reported exactly, once in the audit log however often the
day is read; `gateway reconcile money` says so, and exits 3 when it lists a difference."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from assembly.settings import Settings
from gateway.core.money_out.money_check import BookEntry, ProviderWord, difference, recent_differences
from gateway.core.money_out.money_reconciliation import Budget, Resume, reconcile_money
from gateway.core.providers import PaymentProvider
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Payout
from gateway.kit.provider_parts import Implementations
from payments.mtn import MtnMomoCollection
from payments.mtn.api import MtnCredentials
from tests.commands import command_env, gateway
from tests.core.money_out.money_day import Mtn, a_day_of_money, edit, no_pace
from tests.provider_registry import registry_of


async def test_the_books_agree_then_an_edited_amount_is_reported_once(sessions: Sessions, mtn: Mtn) -> None:
    first, _ = await a_day_of_money(sessions, mtn)
    today = datetime.now(UTC).date()
    report = await reconcile_money(sessions, mtn.registry, "mtn", today, no_pace)
    assert (report.checked, report.differences, report.unread) == (4, [], 0)  # 3 orders and the payout
    await edit(mtn, first, amount="900")  # MTN's records now say 900 of the 1,000 XAF
    for _ in range(2):
        report = await reconcile_money(sessions, mtn.registry, "mtn", today, no_pace)
        [gap] = report.differences
        assert gap.what == "amount" and gap.entry.amount == 1000 and gap.word.amount == 900
    async with sessions() as session:
        audited = list(await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "money.difference")))
        shown = await recent_differences(session)  # what an owner reads on a settlement page
    assert len(audited) == 1 and "books 1000 XAF moved; provider SUCCESSFUL 900 XAF" in audited[0]["line"]
    assert [(target, line) for _, target, line in shown] == [(f"money:mtn:{today.isoformat()}", audited[0]["line"])]


async def test_a_payment_mtn_took_after_we_gave_up_is_missing_in_the_books(sessions: Sessions, mtn: Mtn) -> None:
    _, abandoned = await a_day_of_money(sessions, mtn)
    await edit(mtn, abandoned, status="SUCCESSFUL")
    report = await reconcile_money(sessions, mtn.registry, "mtn", datetime.now(UTC).date(), no_pace)
    assert [(gap.what, gap.entry.kind, gap.entry.amount) for gap in report.differences] == [
        ("missing_in_books", "payment", 200)]


async def test_gateway_reconcile_money_lists_the_difference(sessions: Sessions, mtn: Mtn, settings: Settings) -> None:
    first, abandoned = await a_day_of_money(sessions, mtn)
    env = command_env(settings, SANDBOX_URL=mtn.url)
    command = ["reconcile", "money"]  # every provider set up
    agreed = await asyncio.to_thread(gateway, *command, env=env)
    assert agreed.returncode == 0, agreed.stderr
    assert f"mtn {datetime.now(UTC).date().isoformat()}: 4 checked, no difference" in agreed.stdout
    assert "orange" in agreed.stdout  # its push and its payment page: none of its payments today
    assert "balance: mtn collection account, XAF: 1300 held; first reading" in agreed.stdout
    command += ["--provider", "mtn"]
    await edit(mtn, first, status="FAILED")
    found = await asyncio.to_thread(gateway, *command, env=env)
    assert found.returncode == 3, found.stderr
    assert "missing_at_provider: payment" in found.stdout and "1 difference(s)" in found.stdout
    assert "collection account, XAF: 300 held, moved as the books did since the last reading, given the " \
        "difference(s) above (-1000)" in found.stdout
    await edit(mtn, abandoned, status="SUCCESSFUL")  # on a day with nothing found to explain it
    moved = await asyncio.to_thread(gateway, *command, "--day", "2000-01-01", env=env)
    assert moved.returncode == 3, moved.stderr
    assert "mtn 2000-01-01: 0 checked, no difference" in moved.stdout
    assert "collection account, XAF: 500 held, 200 more than the books explain" in moved.stdout


def test_what_counts_as_a_difference() -> None:
    moved = BookEntry("payment", uuid.uuid4(), True, 1000, "XAF")
    unmoved = BookEntry("payment", moved.key, False, 1000, "XAF")
    assert difference(moved, ProviderWord(True, True, 1000, "xaf")) is None
    assert difference(unmoved, ProviderWord(True, False, None, None, "FAILED")) is None
    assert difference(unmoved, ProviderWord(False, False)) is None  # never reached MTN, never paid
    assert (gap := difference(moved, ProviderWord(False, False))) is not None and gap.what == "missing_at_provider"
    assert (gap := difference(moved, ProviderWord(True, True, 1000, "EUR"))) is not None and gap.what == "amount"
    assert (gap := difference(unmoved, ProviderWord(True, True, 1000, "XAF"))) is not None
    assert gap.what == "missing_in_books"


async def test_a_big_day_is_read_over_several_passes_each_going_on_where_the_last_stopped(
        sessions: Sessions, mtn: Mtn) -> None:
    first, _ = await a_day_of_money(sessions, mtn)
    await edit(mtn, first, amount="900")
    today, calls = datetime.now(UTC).date(), 0
    loop = asyncio.get_running_loop()
    budget = Budget(loop.time() + 1.5)  # ample for the first reads, however busy the machine

    async def slow_turns(provider: PaymentProvider) -> None:  # the cap's turns come slowly: the pass runs out
        nonlocal calls
        calls += 1
        if calls == 2:  # the second read waits past the deadline: no third one in this pass
            await asyncio.sleep(max(0.0, budget.deadline - loop.time()) + 0.05)

    cut = await reconcile_money(sessions, mtn.registry, "mtn", today, slow_turns, budget=budget)
    assert (cut.checked, [gap.what for gap in cut.differences]) == (2, ["amount"])
    assert cut.resume is not None and "2 checked, 1 difference(s), the rest at the next pass" in cut.summary()
    rest = await reconcile_money(sessions, mtn.registry, "mtn", today, no_pace,
                                 resume=Resume.from_json(cut.resume.as_json()), budget=Budget(float("inf")))
    assert (rest.checked, rest.differences, rest.resume) == (2, [], None)  # the third payment and the payout


async def test_a_reference_not_read_stops_the_pass_then_is_given_up_after_its_retries(
        sessions: Sessions, mtn: Mtn) -> None:
    await a_day_of_money(sessions, mtn)
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(timeout=5) as http:  # an MTN client that does not wait to resend a 5xx
        quick = MtnMomoCollection(http, MtnCredentials(f"{mtn.url}/mtn", "sandbox-subscription-key",
                                                       "sandbox-api-user", "sandbox-api-key", "sandbox"),
                                  "http://127.0.0.1", retry_delays=())
        registry = registry_of(mtn=Implementations.one(quick, payouts=mtn.registry.payout_sender("mtn")))
        resume = None
        for tries in (1, 2):
            mtn.control.fail_next = 1  # MTN answers 503 once: the first payment of the day is not read
            report = await reconcile_money(sessions, registry, "mtn", today, no_pace, resume=resume,
                                           budget=Budget(float("inf")))
            assert (report.checked, report.resume) == (0, Resume(None, tries))
            resume = report.resume
        mtn.control.fail_next = 1
        report = await reconcile_money(sessions, registry, "mtn", today, no_pace, resume=resume,
                                       budget=Budget(float("inf")))
    assert (report.checked, report.unread, report.resume) == (3, 1, None)
    assert "3 checked, no difference, 1 not read (try again later)" in report.summary()


async def test_a_payout_asked_one_day_and_sent_the_next_is_checked_on_the_day_it_was_sent(sessions: Sessions,
                                                                                          mtn: Mtn) -> None:
    """A payout waits for a second owner's approval: asked before midnight and sent after, it was in the day
    checked before it was sent, and so never checked at all."""
    await a_day_of_money(sessions, mtn)
    today = datetime.now(UTC).date()
    async with sessions.begin() as session:
        await session.execute(update(Payout).values(created_at=datetime.now(UTC) - timedelta(days=1)))
    report = await reconcile_money(sessions, mtn.registry, "mtn", today, no_pace)
    assert (report.checked, report.differences) == (4, [])  # today's 3 orders and the payout sent today
    assert (await reconcile_money(sessions, mtn.registry, "mtn", today - timedelta(days=1), no_pace)).checked == 0
