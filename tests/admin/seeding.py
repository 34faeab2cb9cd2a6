"""A contest with orders in every state, on several channels, providers and operators, for the dashboard
and export tests. Orders are placed and decided through the core (paid ones counted by confirm_payment);
states the core reaches only through providers (held, refunded…) are set by SQL, as they would stand."""

from __future__ import annotations

from sqlalchemy import func, insert, text

from channels.sms.models import SmsMessage
from gateway.core.orders import closing, counting
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OutboxMessage
from tests.channel_names import Channel
from tests.factories import make_contest, place

# (candidate, quantity, provider, channel, msisdn, fate)
ORDERS = [
    ("01", 3, "mtn", Channel.USSD, "+237670000001", "paid"),
    ("01", 2, "mtn", Channel.SMS, "+237650000002", "paid"),
    ("02", 5, "orange", Channel.USSD, "+237690000003", "paid"),
    ("02", 1, "orange", Channel.WEB, "+237655000004", "paid"),
    ("03", 4, "stripe", Channel.WEB, None, "paid"),
    ("03", 2, "mtn", Channel.TELEGRAM, "+237680000005", "paid"),
    ("01", 1, "mtn", Channel.USSD, "+237670000006", "pending"),
    ("02", 2, "orange", Channel.SMS, "+237690000007", "pending"),
    ("01", 1, "mtn", Channel.USSD, "+237670000008", "failed:insufficient funds"),
    ("02", 1, "orange", Channel.USSD, "+237690000009", "failed:insufficient funds"),
    ("03", 1, "mtn", Channel.SMS, "+237670000010", "failed:payer declined"),
    ("01", 2, "mtn", Channel.WEB, "+237670000011", "expired"),
    ("02", 3, "orange", Channel.USSD, "+237690000012", "held"),
    ("03", 2, "mtn", Channel.USSD, "+237670000013", "refunded"),
    ("01", 1, "orange", Channel.SMS, "+237690000014", "flagged"),
    ("02", 6, "mtn", Channel.USSD, "+237670000015", "refund_requested"),
]


async def seeded_contest(sessions: Sessions, **overrides: object) -> Contest:
    """The contest of ORDERS, with a verification waiting, a failed SMS and a stuck outbox message."""
    contest = await make_contest(sessions, candidates=3, **overrides)
    for index, (code, quantity, provider, channel, msisdn, fate) in enumerate(ORDERS):
        order = await place(sessions, contest, code, quantity, provider=provider, channel=channel, msisdn=msisdn,
                            client_key=f"seed-{contest.id}-{index}")
        if fate == "paid":
            await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency,
                                           f"txn-{contest.id}-{index}", provider=provider, verify_later=index == 0)
        elif fate.startswith("failed:"):
            await closing.fail_order(sessions, order.id, fate.removeprefix("failed:"))
        elif fate == "expired":
            await closing.expire_order(sessions, order.id)
        elif fate == "flagged":
            await closing.flag_order(sessions, order.id, "amount mismatch")
        elif fate != "pending":
            async with sessions.begin() as session:
                await session.execute(text("UPDATE vote_orders SET status = CAST(:s AS order_status) WHERE id = :i"),
                                      {"s": fate, "i": order.id})
        if index == 1:
            async with sessions.begin() as session:
                await session.execute(insert(SmsMessage).values(order_id=order.id, kind="receipt", msisdn=msisdn,
                                                                text="Merci", status="Failed"))
    async with sessions.begin() as session:
        await session.execute(insert(OutboxMessage).values(  # handed to RQ, failed five times
            topic="order.paid", attempts=5, enqueued_at=func.now(),
            payload={"contest_id": contest.id, "order_id": "x"}))
    return contest
