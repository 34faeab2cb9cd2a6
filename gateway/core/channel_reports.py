"""What a channel that sends messages of its own tells a person about those that failed: a figure on a
contest's dashboard and a block in `gateway review`. The channel keeps its messages in its own tables, so it
answers both (`ChannelParts.failed_messages`); the core and the admin area only show what it says."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.engine import Sessions


class FailedMessages(Protocol):
    @property
    def figure(self) -> str:
        """The figure's name in the dashboard's JSON (one per channel, e.g. `failed_<channel>`)."""
        ...

    @property
    def label(self) -> str:
        """The figure's row on the dashboard page, in English (the admin area translates it)."""
        ...

    async def failed_for_contest(self, session: AsyncSession, contest_id: int) -> int:
        """How many messages about the contest's orders failed."""
        ...

    async def undelivered(self, sessions: Sessions) -> list[str]:
        """The lines `gateway review` prints after the orders (none: nothing to show), the oldest first."""
        ...
