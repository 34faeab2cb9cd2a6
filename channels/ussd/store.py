"""The USSD channel's own table: AT's end-of-session notifications. Contests, votes, boards and what the
service knows of a number come from the vote service."""

from __future__ import annotations

from channels.ussd.forms import SessionEnd
from channels.ussd.models import UssdSessionEvent
from gateway.db.engine import Sessions


async def record_session_end(sessions: Sessions, event: SessionEnd) -> None:
    async with sessions.begin() as session:
        session.add(UssdSessionEvent(session_id=event.session_id, msisdn=event.msisdn, status=event.status,
                                     payload=event.payload))
