"""SMS that failed, for a person: a figure on each contest's dashboard and the list `gateway review` prints
after the orders (`FailedMessages` of gateway.core.channel_reports)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.sms.models import SmsMessage
from gateway.core.channel_queries import contest_order_ids
from gateway.db.engine import Sessions, autocommit

# A contest's dashboard counts these (any case: AT's words and ours) …
FAILED = ("failed", "rejected", "unsent")
# … and `gateway review` lists what Africa's Talking finally failed to deliver (or we could not send).
FINAL_FAILURES = ("Failed", "Rejected", "Expired", "unsent")


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class SmsFailures:
    figure = "failed_sms"
    label = "Failed SMS"

    async def failed_for_contest(self, session: AsyncSession, contest_id: int) -> int:
        count = await session.scalar(
            select(func.count()).select_from(SmsMessage)
            .where(SmsMessage.order_id.in_(contest_order_ids(contest_id)), func.lower(SmsMessage.status).in_(FAILED)))
        return int(count or 0)

    async def undelivered(self, sessions: Sessions) -> list[str]:
        """SMS (replies and receipts) whose last word is a final failure, the oldest first."""
        async with autocommit(sessions) as session:
            rows = (await session.scalars(select(SmsMessage).where(SmsMessage.status.in_(FINAL_FAILURES))
                                          .order_by(SmsMessage.updated_at, SmsMessage.id))).all()
        if not rows:
            return []
        lines = [f"\n{len(rows)} SMS not delivered, the oldest first:"]
        for m in rows:
            order = f"order {m.order_id}" if m.order_id else "reply"
            lines.append(f"  {when(m.updated_at)}  {m.kind} to {m.msisdn} ({order}): {m.status} "
                         f"{m.failure_reason or ''}".rstrip())
        return lines


SMS_FAILURES = SmsFailures()
