"""Orders held by the fraud rules: paid but kept off the board until a person decides, then counted once."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from assembly.settings import Settings
from gateway.core.errors import Conflict
from gateway.core.fraud import holds
from gateway.core.money_in.verification import by_status as verification
from gateway.core.orders import counting, held_together, tables
from gateway.core.orders.outcomes import ConfirmOutcome
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, OrderStatus, OutboxMessage, VoteOrder
from tests.channel_names import Channel
from tests.channels.web.contest_form import open_form
from tests.commands import command_env, gateway
from tests.factories import assert_tally_invariant, make_contest, place, tallies

ONLY_ONE_ORDER_PER_PAYER = {"payer_orders_per_10_minutes": 1}


async def confirm(sessions: Sessions, order: VoteOrder, txn: str) -> ConfirmOutcome:
    return await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, txn,
                                          provider=order.provider)


async def status_of(sessions: Sessions, order: VoteOrder) -> tuple[OrderStatus, str | None]:
    async with sessions() as session:
        row = (await session.execute(select(VoteOrder.status, VoteOrder.hold_reason)
                                     .where(VoteOrder.id == order.id))).one()
    return row.status, row.hold_reason


async def test_a_held_order_is_off_the_board_until_approved_then_counts_once(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=ONLY_ONE_ORDER_PER_PAYER)
    first = await place(sessions, contest, "01", quantity=2)
    second = await place(sessions, contest, "01", quantity=3)  # the same payer again within ten minutes
    assert first.hold_reason is None
    assert second.hold_reason == "payer_velocity: 2 over the limit of 1 (+100) = 100 points, held at 100"

    assert await confirm(sessions, first, "T1") is ConfirmOutcome.COUNTED
    assert await confirm(sessions, second, "T2") is ConfirmOutcome.HELD
    assert (await tallies(sessions, contest.id))["01"] == 2  # the held votes are not on the board
    assert (await status_of(sessions, second))[0] is OrderStatus.HELD
    await assert_tally_invariant(sessions, contest.id)

    await holds.release_held(sessions, second.id, actor="owner@example.org", reason="a fan; checked by phone")
    assert (await tallies(sessions, contest.id))["01"] == 5
    await assert_tally_invariant(sessions, contest.id)
    try:
        await holds.release_held(sessions, second.id, actor="owner@example.org", reason="twice")
        raise AssertionError("a second release must be refused")
    except Conflict:
        pass
    assert (await tallies(sessions, contest.id))["01"] == 5  # counted once
    async with sessions() as session:
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.target == str(second.id)))).all()
        topics = (await session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id))).all()
    assert [(entry.action, entry.actor, entry.details["reason"]) for entry in audit] == [
        ("order.release_held", "owner@example.org", "a fan; checked by phone")]
    assert topics == ["vote.confirmed", holds.HELD_TOPIC, "vote.confirmed", "order.paid"]


async def test_a_rejected_held_order_never_counts_and_is_owed_back(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=ONLY_ONE_ORDER_PER_PAYER)
    await place(sessions, contest, "02")
    held = await place(sessions, contest, "02", quantity=4)
    assert await confirm(sessions, held, "T9") is ConfirmOutcome.HELD
    await holds.reject_held(sessions, held.id, actor="owner@example.org", reason="one of 40 numbers behind a SIM box")
    status, _ = await status_of(sessions, held)
    assert status is OrderStatus.REFUND_REQUESTED
    assert (await tallies(sessions, contest.id))["02"] == 0
    await assert_tally_invariant(sessions, contest.id)


async def test_payments_in_quick_succession_are_held_at_confirmation(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"quick_payments": 1, "quick_payment_seconds": 60})
    first, second = await place(sessions, contest, "03"), await place(sessions, contest, "03")
    assert first.hold_reason is None and second.hold_reason is None  # nothing to see when placed
    assert await confirm(sessions, first, "Q1") is ConfirmOutcome.COUNTED
    assert await confirm(sessions, second, "Q2") is ConfirmOutcome.HELD
    assert await status_of(sessions, second) == (OrderStatus.HELD, "quick_payments: paid again within the window")
    await assert_tally_invariant(sessions, contest.id)


async def test_a_repeated_callback_is_not_a_second_quick_payment(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"quick_payments": 2, "quick_payment_seconds": 60})
    first, second, third = [await place(sessions, contest, "03") for _ in range(3)]
    assert await confirm(sessions, first, "R1") is ConfirmOutcome.COUNTED
    assert await confirm(sessions, first, "R1") is ConfirmOutcome.ALREADY_DECIDED  # the provider said it twice
    assert await confirm(sessions, second, "R2") is ConfirmOutcome.COUNTED  # one payment before it, not two
    assert await confirm(sessions, third, "R3") is ConfirmOutcome.HELD
    await assert_tally_invariant(sessions, contest.id)


async def test_a_rule_set_to_zero_is_off(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"payer_orders_per_10_minutes": 0, "quick_payments": 0})
    orders = [await place(sessions, contest, "04") for _ in range(3)]
    assert [await confirm(sessions, order, f"Z{i}") for i, order in enumerate(orders)] == [ConfirmOutcome.COUNTED] * 3
    assert (await tallies(sessions, contest.id))["04"] == 3


async def test_many_numbers_behind_one_web_address_are_held(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"numbers_per_address_per_day": 2})
    placed = []
    for number in ("+237670000011", "+237670000012", "+237670000013"):
        response = await client.post(f"/api/v1/contests/{contest.slug}/votes", json={
            "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": number},
            headers={"X-Forwarded-For": "41.202.7.9"})
        assert response.status == 201, await response.text()
        placed.append((await response.json())["order"]["id"])
    async with sessions() as session:
        reasons = [await session.scalar(select(VoteOrder.hold_reason).where(VoteOrder.id == order_id))
                   for order_id in placed]
    assert reasons == [None, None, "numbers_per_address: 3 over the limit of 2 (+100) = 100 points, held at 100"]


async def twenty_voters(client: TestClient, sessions: Sessions, contest: Contest, address: str) -> list[ConfirmOutcome]:
    """Twenty people, each with their own number, from one address, for the candidates in turn, one vote each."""
    outcomes = []
    for n in range(20):
        response = await client.post(f"/api/v1/contests/{contest.slug}/votes", json={
            "candidate": f"{n % 5 + 1:02d}", "quantity": 1, "provider": "mtn", "msisdn": f"+2376700001{n:02d}"},
            headers={"X-Forwarded-For": address})
        assert response.status == 201, await response.text()
        order = await tables.get_order(sessions, uuid.UUID((await response.json())["order"]["id"]))
        outcomes.append(await confirm(sessions, order, f"CROWD{n}"))
    return outcomes


async def test_twenty_people_behind_a_mobile_operators_address_all_count(client: TestClient,
                                                                         sessions: Sessions) -> None:
    """Orange Cameroun's mobile data: one carrier-grade NAT address for thousands of subscribers."""
    contest = await make_contest(sessions)  # the default thresholds
    assert await twenty_voters(client, sessions, contest, "41.202.207.1") == [ConfirmOutcome.COUNTED] * 20
    assert sum((await tallies(sessions, contest.id)).values()) == 20


async def test_twenty_numbers_behind_one_other_address_are_held_past_the_rules(client: TestClient,
                                                                                sessions: Sessions) -> None:
    """An office's or a SIM box's address is one place: the same twenty are held once the address rules fire."""
    contest = await make_contest(sessions)
    outcomes = await twenty_voters(client, sessions, contest, "203.0.113.7")
    assert outcomes[:6] == [ConfirmOutcome.COUNTED] * 6 and ConfirmOutcome.HELD in outcomes


async def test_an_ipv6_subscriber_is_one_address_whatever_its_devices(client: TestClient, sessions: Sessions) -> None:
    """A phone and a laptop of one subscriber have two addresses of one /64: the address rules see one address."""
    contest = await make_contest(sessions, fraud_rules={"numbers_per_address_per_day": 1})
    reasons = []
    for number, address in (("+237670000021", "2c0f:f8f0:1:2::a"), ("+237670000022", "2c0f:f8f0:1:3::b"),
                            ("+237670000023", "2c0f:f8f0:1:2:ffff::c")):
        response = await client.post(f"/api/v1/contests/{contest.slug}/votes", json={
            "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": number},
            headers={"X-Forwarded-For": address})
        assert response.status == 201, await response.text()
        order = await tables.get_order(sessions, uuid.UUID((await response.json())["order"]["id"]))
        reasons.append(order.hold_reason)
    assert reasons == [None, None, "numbers_per_address: 2 over the limit of 1 (+100) = 100 points, held at 100"]
    # the first and third share a /64


async def test_the_review_command_lists_a_held_order_and_counts_it_with_a_reason(
        sessions: Sessions, settings: Settings) -> None:
    contest = await make_contest(sessions, fraud_rules=ONLY_ONE_ORDER_PER_PAYER)
    await place(sessions, contest, "05")
    held = await place(sessions, contest, "05", quantity=3)
    assert await confirm(sessions, held, "C1") is ConfirmOutcome.HELD
    env = command_env(settings)

    listed = gateway("review", env=env)
    assert f"held  order {held.id}" in listed.stdout
    assert "held by a fraud rule (payer_velocity: 2 over the limit of 1 (+100)" in listed.stdout
    unexplained = gateway("review", "--count", str(held.id), env=env)
    assert unexplained.returncode == 2 and "--reason" in unexplained.stderr
    assert (await tallies(sessions, contest.id))["05"] == 0

    counted = gateway("review", "--count", str(held.id), "--reason", "known fan", env=env)
    assert counted.returncode == 0, counted.stderr
    assert (await tallies(sessions, contest.id))["05"] == 3
    again = gateway("review", "--reject", str(held.id), "--reason", "changed my mind", env=env)
    assert again.returncode == 1 and "not held" in again.stderr
    assert (await tallies(sessions, contest.id))["05"] == 3


async def test_the_review_command_rejects_a_held_order_and_says_who_gives_the_money_back(
        sessions: Sessions, settings: Settings) -> None:
    """The rejected order is owed back at once, so `gateway refund` refuses it: the command's advice must not send
    the operator there, but say that MTN's refunds go out by themselves."""
    contest = await make_contest(sessions, fraud_rules=ONLY_ONE_ORDER_PER_PAYER)
    await place(sessions, contest, "05")
    held = await place(sessions, contest, "05", quantity=3)
    assert await confirm(sessions, held, "R1") is ConfirmOutcome.HELD
    env = command_env(settings)

    rejected = gateway("review", "--reject", str(held.id), "--reason", "SIM farm", env=env)
    assert rejected.returncode == 0, rejected.stderr
    assert rejected.stdout.strip() == f"order {held.id}: rejected; mtn sends the money back by itself (the worker's " \
                                      "refunds pass)"
    assert (await status_of(sessions, held))[0] is OrderStatus.REFUND_REQUESTED
    refund = gateway("refund", str(held.id), env=env)
    assert refund.returncode != 0 and "already refunded or marked for a refund" in refund.stderr


async def test_a_held_order_the_provider_then_disowns_is_flagged_and_the_tally_untouched(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=ONLY_ONE_ORDER_PER_PAYER)
    first = await place(sessions, contest, "01", quantity=2)
    held = await place(sessions, contest, "01", quantity=3)
    assert await confirm(sessions, first, "V1") is ConfirmOutcome.COUNTED
    outcome = await counting.confirm_payment(sessions, held.id, "SUCCESSFUL", held.amount, held.currency, "V2",
                                             provider=held.provider, verify_later=True)
    assert outcome is ConfirmOutcome.HELD
    assert await verification.take_back(sessions, held.id, "status FAILED", None) is verification.Verified.DISAGREED
    assert (await status_of(sessions, held))[0] is OrderStatus.FLAGGED
    assert (await tallies(sessions, contest.id))["01"] == 2  # nothing was on the tally to take back
    await assert_tally_invariant(sessions, contest.id)


async def test_one_telegram_user_voting_too_fast_is_held(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"voter_orders_per_10_minutes": 1})
    first = await place(sessions, contest, "01", channel=Channel.TELEGRAM, msisdn="+237670000021", voter_ref="4242")
    second = await place(sessions, contest, "02", channel=Channel.TELEGRAM, msisdn="+237670000022", voter_ref="4242")
    other = await place(sessions, contest, "02", channel=Channel.TELEGRAM, msisdn="+237670000023", voter_ref="777")
    assert (first.hold_reason, other.hold_reason) == (None, None)
    assert second.hold_reason == "voter_velocity: 2 over the limit of 1 (+100) = 100 points, held at 100"


async def test_the_per_voter_rules_hold_a_voter_of_any_channel_that_names_them(sessions: Sessions) -> None:
    """A newcomer's chat channel names its voters as Telegram does: they are counted per voter of that
    channel (the same reference on another channel is someone else), payer numbers included."""
    contest = await make_contest(sessions, fraud_rules={"voter_orders_per_10_minutes": 2, "numbers_per_voter": 1})
    first = await place(sessions, contest, "01", channel="toy", msisdn="+237670000031", voter_ref="u1")
    elsewhere = await place(sessions, contest, "01", channel=Channel.TELEGRAM, msisdn="+237670000032", voter_ref="u1")
    second = await place(sessions, contest, "02", channel="toy", msisdn="+237670000032", voter_ref="u1")
    third = await place(sessions, contest, "02", channel="toy", msisdn="+237670000031", voter_ref="u1")
    assert (first.hold_reason, elsewhere.hold_reason) == (None, None)
    assert second.hold_reason == "numbers_per_voter: 2 over the limit of 1 (+100) = 100 points, held at 100"
    assert third.hold_reason == ("voter_velocity: 3 over the limit of 2 (+100); "
                                 "numbers_per_voter: 2 over the limit of 1 (+100) = 200 points, held at 100")


async def test_a_held_order_paid_again_is_a_second_charge_for_a_person_not_a_second_count(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules=ONLY_ONE_ORDER_PER_PAYER)
    await place(sessions, contest, "01")
    held = await place(sessions, contest, "01", quantity=2)
    assert await confirm(sessions, held, "H1") is ConfirmOutcome.HELD
    assert await confirm(sessions, held, "H1") is ConfirmOutcome.ALREADY_DECIDED  # the same callback again
    assert await confirm(sessions, held, "H2") is ConfirmOutcome.DUPLICATE_PAYMENT  # another charge: refund it
    assert (await status_of(sessions, held))[0] is OrderStatus.HELD
    await holds.release_held(sessions, held.id, actor="owner@example.org", reason="checked")
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_tally_invariant(sessions, contest.id)


async def test_one_browser_paying_from_many_numbers_is_held_though_its_address_is_a_crowd_s(
        client: TestClient, sessions: Sessions) -> None:
    """A SIM box driven from one phone's browser on mobile data: the carrier's address excuses the numbers behind
    it, the browser (the cookie we issued it) does not. Another browser on the same address is someone else."""
    await make_contest(sessions, slug="sim-farm")
    fields = await open_form(client, "sim-farm")
    reasons = []
    for n in range(5):
        response = await client.post("/c/sim-farm/vote", data={
            **fields, "candidate": "03", "quantity": "1", "provider": "mtn", "msisdn": f"+2376700006{n:02d}",
            "form_id": f"{fields['form_id'][:-2]}{n:02d}"}, headers={"X-Forwarded-For": "41.202.207.1"},
            allow_redirects=False)
        assert response.status == 303, await response.text()
        order = await tables.get_order(sessions, uuid.UUID(response.headers["Location"].rsplit("/", 1)[1]))
        reasons.append(order.hold_reason)
    assert reasons[:3] == [None] * 3 and all(r and r.startswith("numbers_per_voter: ") for r in reasons[3:])
    client.session.cookie_jar.clear()
    other = await open_form(client, "sim-farm")
    response = await client.post("/c/sim-farm/vote", data={
        **other, "candidate": "03", "quantity": "1", "provider": "mtn", "msisdn": "+237670000699"},
        headers={"X-Forwarded-For": "41.202.207.1"}, allow_redirects=False)
    order = await tables.get_order(sessions, uuid.UUID(response.headers["Location"].rsplit("/", 1)[1]))
    assert order.hold_reason is None


async def test_a_burst_held_at_its_sixth_payment_takes_its_first_five_off_the_board_with_it(sessions: Sessions) -> None:
    """Quick payments fire on the payment that shows the burst; the five before were the same act. Another payer's
    orders stay counted; a person then counts or refuses each held order as any other."""
    contest = await make_contest(sessions)
    burst = [await place(sessions, contest, "02", msisdn="+237670000091") for _ in range(6)]
    bystander = await place(sessions, contest, "02", msisdn="+237670000092")
    outcomes = [await confirm(sessions, order, f"B{n}") for n, order in enumerate([*burst, bystander])]
    assert outcomes == [ConfirmOutcome.COUNTED] * 5 + [ConfirmOutcome.HELD, ConfirmOutcome.COUNTED]
    assert (await tallies(sessions, contest.id))["02"] == 6
    assert sorted(map(str, await held_together.hold_earlier(sessions, burst[-1].id))) == sorted(
        str(order.id) for order in burst[:5])
    assert await held_together.hold_earlier(sessions, burst[-1].id) == []  # once
    assert (await tallies(sessions, contest.id))["02"] == 1  # the bystander's
    await assert_tally_invariant(sessions, contest.id)
    status, reason = await status_of(sessions, burst[0])
    assert status is OrderStatus.HELD and reason is not None and reason.startswith("held_together: with order ")
    await holds.release_held(sessions, burst[0].id, actor="owner@example.org", reason="a fan who tapped fast")
    assert (await tallies(sessions, contest.id))["02"] == 2
    await assert_tally_invariant(sessions, contest.id)
    assert (await ledger.verify(sessions, contest.id)).clean


async def test_an_address_rule_never_reaches_back_to_the_address_s_other_people(sessions: Sessions) -> None:
    contest = await make_contest(sessions, fraud_rules={"numbers_per_address_per_day": 1})
    first = await place(sessions, contest, "01", msisdn="+237670000093", voter_address="198.51.100.9")
    second = await place(sessions, contest, "01", msisdn="+237670000094", voter_address="198.51.100.9")
    assert await confirm(sessions, first, "A1") is ConfirmOutcome.COUNTED
    assert await confirm(sessions, second, "A2") is ConfirmOutcome.HELD
    assert await held_together.hold_earlier(sessions, second.id) == []
    assert (await tallies(sessions, contest.id))["01"] == 1
