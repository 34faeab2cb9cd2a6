"""What the entries' page and the JSON API share: reading a call for entries and entry ids from what was sent,
and an entry as the admin area shows it (the number masked: an organiser judges a clip, not a phone number)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from admin.money_fields import shown_major
from gateway.core.contests.catalog import mask_msisdn
from gateway.core.contests.contest_drafts import form_moment
from gateway.core.entered_number import BIGINT_MAX, INTEGER_MAX, entered_whole
from gateway.core.entries.entries_review import ReviewRow
from gateway.core.errors import DomainError, NotFound
from gateway.core.market import wall_clock
from gateway.core.media.uploads import UploadView
from gateway.db.models import EntryCall, EntryStatus

STATUSES = tuple(s.value for s in EntryStatus)
MAX_IDS = 200  # a bulk approval: at most a page of the queue
CLIP_STATES = {"granted": "processing", "received": "processing", "ready": "ready", "refused": "refused"}


@dataclass(frozen=True)
class CallFields:
    opens_at: datetime
    closes_at: datetime
    rules: str
    max_entries: int | None
    fee_amount: int | None
    codes_per_day: int | None


def whole_or_none(form: Mapping[str, Any], name: str, meaning: str, high: int) -> int | None:
    raw = form.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    return entered_whole(raw, name, high=high, label=f"{name} (empty for {meaning})")


def parse_call(form: Mapping[str, Any], zone: str) -> CallFields:
    """The call's fields from a form or a JSON body; an empty (or null) max_entries means no limit, an empty
    fee_amount (minor units of the contest's currency) free entry, an empty codes_per_day the service's default. Times
    without an offset are on the contest's clock (`zone`)."""
    return CallFields(form_moment(form, "opens_at", zone), form_moment(form, "closes_at", zone),
                      str(form.get("rules") or ""),
                      whole_or_none(form, "max_entries", "no limit", INTEGER_MAX),
                      whole_or_none(form, "fee_amount", "no fee", BIGINT_MAX),
                      whole_or_none(form, "codes_per_day", "the service's default", INTEGER_MAX))


def call_values(call: EntryCall | None, zone: str, currency: str) -> dict[str, Any]:
    """The call as the form's fields show it, on the contest's clock, its fee in major units of the contest's
    `currency` (a new call: empty)."""
    if call is None:
        return {"opens_at": "", "closes_at": "", "rules": "", "max_entries": "", "fee_amount": "", "codes_per_day": ""}
    return {"opens_at": wall_clock(call.opens_at, zone), "closes_at": wall_clock(call.closes_at, zone),
            "rules": call.rules,
            "max_entries": "" if call.max_entries is None else call.max_entries,
            "fee_amount": shown_major(call.fee_amount, currency),
            "codes_per_day": "" if call.codes_per_day is None else call.codes_per_day}


def call_json(call: EntryCall | None) -> dict[str, Any] | None:
    if call is None:
        return None
    return {"opens_at": call.opens_at.isoformat(), "closes_at": call.closes_at.isoformat(), "rules": call.rules,
            "max_entries": call.max_entries, "fee_amount": call.fee_amount, "codes_per_day": call.codes_per_day}


def entry_id(value: object) -> uuid.UUID:
    """An entry's id as sent; anything else is an entry that does not exist (404, as another contest's is)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("No such entry.", code="entry_not_found") from None


def approvals(value: object) -> tuple[list[uuid.UUID], dict[uuid.UUID, uuid.UUID]]:
    """The entries to approve, and the clip the organiser watched of each that says so (`<entry id>:<clip id>`,
    as the page sends them): an entry whose candidate replaced the clip since is not approved unseen."""
    values = value if isinstance(value, list) else [] if value in (None, "") else [value]
    if not values:
        raise DomainError("Choose at least one entry.", code="invalid_field", field="entries")
    if len(values) > MAX_IDS:
        raise DomainError(f"At most {MAX_IDS} entries at once.", code="invalid_field", field="entries")
    ids: list[uuid.UUID] = []
    watched: dict[uuid.UUID, uuid.UUID] = {}
    for item in values:
        entry, _, clip = str(item).partition(":")
        ids.append(entry_id(entry))
        if clip:
            watched[ids[-1]] = entry_id(clip)
    return ids, watched


def status_of(query: Mapping[str, str], default: str | None) -> str | None:
    wanted = query.get("status", default or "")
    if wanted and wanted not in STATUSES:
        raise DomainError("status: pending, approved or rejected.", code="invalid_field", field="status")
    return wanted or None


def upload_json(view: UploadView | None) -> dict[str, Any] | None:
    if view is None:
        return None
    return {"id": str(view.id), "state": view.state.value, "refusal": view.refusal, "urls": dict(view.urls)}


def entry_json(row: ReviewRow) -> dict[str, Any]:
    entry = row.entry
    return {"id": str(entry.id), "contest_id": entry.contest_id, "status": entry.status.value, "name": entry.name,
            "bio": entry.bio, "msisdn": mask_msisdn(entry.msisdn), "language": entry.language,
            "submitted_at": entry.created_at.isoformat(), "reason": entry.reason, "candidate_id": entry.candidate_id,
            "decided_by": entry.decided_by,
            "decided_at": entry.decided_at.isoformat() if entry.decided_at else None,
            "fee_paid_at": entry.fee_paid_at.isoformat() if entry.fee_paid_at else None,
            "clip": upload_json(row.clip), "photo": upload_json(row.photo)}
