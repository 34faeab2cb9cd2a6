"""Sending SMS from jobs only, through Africa's Talking (channels.phone.at_messaging, which USSD's receipts use
too). Every message is a row first (one per order or inbound and kind), so a job or relay that runs twice sends
once; network errors and AT's errors are retried with back-off, then the row says `unsent` (a later run of the same
job takes it again)."""

from __future__ import annotations

from collections.abc import Sequence

from channels.phone.at_account import AtAccount
from channels.phone.at_messaging import DIRECT, RETRY_DELAYS, AtMessaging, Route
from channels.sms import store
from channels.sms.store import Outgoing
from gateway.db.engine import Sessions

__all__ = ["Route", "SmsSender"]


class SmsSender:
    def __init__(self, sessions: Sessions, account: AtAccount | None,
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self.sessions = sessions
        self.account = account
        self.messaging = AtMessaging(account, retry_delays) if account is not None else None

    def close(self) -> None:
        if self.messaging is not None:
            self.messaging.close()

    @property
    def retry_delays(self) -> tuple[float, ...]:
        return self.messaging.retry_delays if self.messaging is not None else ()

    @retry_delays.setter
    def retry_delays(self, delays: Sequence[float]) -> None:
        if self.messaging is not None:
            self.messaging.retry_delays = tuple(delays)

    async def send(self, message: Outgoing, route: Route = DIRECT) -> bool:
        """Send once per order/inbound and kind; False when it was sent (or is being sent) already."""
        message_id = await store.claim_outgoing(self.sessions, message)
        if message_id is None:
            return False
        await store.OUTGOING.send(self.sessions, self.messaging, message_id, message.msisdn, message.text, route)
        return True
