"""A channel's own settings of a contest (a short code, a keyword, a switch…): what the core asks of them.

They live in the channel's own table, not in `contests`: the channel hands a `ChannelContestSettings` over
in its `ChannelParts`, and the admin area (its form and JSON API) and the contests' operations reach them
only through these Protocols. The core never names a channel's field: a form's or an API body's fields go to
every channel's `parse`, which takes its own, checks them with its own model and answers a DomainError
naming the bad field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class ContestSettingValues(Protocol):
    """One channel's settings of one contest, checked (the channel's own model)."""

    def fields(self) -> dict[str, Any]:
        """Its fields as the admin's form and API and the audit trail show them (names unique across channels)."""
        ...

    async def save(self, session: AsyncSession, contest_id: int) -> None:
        """Keep them as the contest's, in the caller's transaction."""
        ...

    async def check_clashes(self, session: AsyncSession, contest_id: int, live_others: Mapping[int, str]) -> None:
        """Raise Conflict (naming the field) when another live contest (`live_others`: their slugs by id, the
        oldest first) has settings that clash."""
        ...


class ChannelContestSettings(Protocol):
    """What a channel with per-contest settings hands the core (`ChannelParts.contest_settings`)."""

    def parse(self, form: Mapping[str, Any]) -> ContestSettingValues:
        """Its fields from a form (strings) or a JSON body; a missing one takes its default."""
        ...

    def demo(self) -> ContestSettingValues:
        """The demo contest's (`gateway seed --demo`)."""
        ...

    async def load(self, session: AsyncSession, contest_ids: Sequence[int]) -> Mapping[int, ContestSettingValues]:
        """Each contest's settings, the defaults for a contest that has none kept."""
        ...


async def channel_fields(session: AsyncSession, channels: Sequence[ChannelContestSettings],
                         contest_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Every channel's fields of each contest, merged (a contest's form, its API body, its audit snapshot)."""
    merged: dict[int, dict[str, Any]] = {contest_id: {} for contest_id in contest_ids}
    if not contest_ids:
        return merged
    for channel in channels:
        for contest_id, values in (await channel.load(session, contest_ids)).items():
            merged[contest_id].update(values.fields())
    return merged


def blank_fields(channels: Sequence[ChannelContestSettings]) -> dict[str, Any]:
    """Every channel's fields with their defaults (a new contest's form)."""
    merged: dict[str, Any] = {}
    for channel in channels:
        merged.update(channel.parse({}).fields())
    return merged
