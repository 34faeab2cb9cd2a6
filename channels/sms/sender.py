"""Sending SMS from jobs only, through Africa's Talking (channels.phone.at_messaging, which USSD's receipts use
too). Every message is a row first (one per order or inbound and kind), so a job or relay that runs twice sends
once; network errors and AT's errors are retried with back-off, then the row says `unsent` (a later run of the same
job takes it again)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from channels.phone.at_messaging import (
    DIRECT,
    RETRY_DELAYS,
    SEND_ERRORS,
    AtAccount,
    AtMessaging,
    Route,
    at_account,
    sms_service,
)
from channels.sms import store
from channels.sms.store import Outgoing
from gateway.db.engine import Sessions

__all__ = ["AtAccount", "Route", "SmsSender", "at_account", "sms_service"]

log = logging.getLogger(__name__)


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
        if self.messaging is None:
            log.warning("SMS %s not sent: no Africa's Talking account (AT_USERNAME/AT_API_KEY or AT_FAKE_URL)",
                        message_id)
            await store.note_sent(self.sessions, message_id, None, "unsent", "NoAccount")
            return True
        try:
            answer = await self.messaging.send(message.msisdn, message.text, route)
        except SEND_ERRORS as exc:
            log.warning("SMS %s not sent after retries: %r", message_id, exc)
            await store.note_sent(self.sessions, message_id, None, "unsent", type(exc).__name__)
            raise
        await store.note_sent(self.sessions, message_id, answer.at_message_id,
                              "Sent" if answer.accepted else "Rejected", None if answer.accepted else answer.status)
        return True
