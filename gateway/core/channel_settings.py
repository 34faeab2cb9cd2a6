"""A channel's own settings of a contest (a short code, a keyword, a switch…): what the core asks of them.

They live in the channel's own table, not in `contests`: the channel hands a `ChannelContestSettings` over
in its `ChannelParts`, and the admin area (its form and JSON API) and the contests' operations reach them
only through these Protocols. The core never names a channel's field: a form's or an API body's fields go to
every channel's `parse`, which takes its own, checks them with its own model and answers a DomainError
naming the bad field. Nor does the admin area: it draws a channel's inputs, shows its values and documents its
API body from what the channel's `describe` says of them, in the channel's own words (its catalog domain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

# A "list" is a text in the form (its items between commas) and an array in the API.
FieldKind = Literal["text", "number", "checkbox", "list"]


@dataclass(frozen=True)
class ContestField:
    """One field of a channel's settings of a contest, as the admin's form draws it and its API documents it.

    `name` is the form's and the API body's (what `parse` reads, unique across channels); `json_schema` the
    field's JSON Schema in the API body; `label`, `help` and `refusal` (what the form says beside the field when
    `parse` refuses it as invalid, code "invalid_field"; None: `parse`'s own English words) are in the language
    asked of `describe`."""

    name: str
    kind: FieldKind
    json_schema: Mapping[str, Any]
    label: str
    help: str | None = None
    refusal: str | None = None


@dataclass(frozen=True)
class ContestFieldset:
    """A channel's fields under its own title (the form's fieldset, the contest page's summary)."""

    legend: str
    fields: tuple[ContestField, ...]


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

    def describe(self, lang: str) -> ContestFieldset:
        """Its fields as the admin area draws, shows and documents them (each name `fields()` gives), labelled
        in `lang` from the channel's own catalog."""
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
