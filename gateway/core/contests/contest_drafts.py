"""What an organiser types for a contest or a candidate list, checked without I/O.

A form posts strings, the JSON API may post lists and numbers: both arrive as a mapping and leave as a
`ContestDraft`, or a DomainError naming the field. A CSV of candidates is checked whole: every bad line
is reported, and nothing is imported while one is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from gateway.core.channel_settings import ChannelContestSettings, ContestSettingValues
from gateway.core.contests.free_vote_settings import FreeVoteSettings, parse_free_votes
from gateway.core.contests.price_tiers import PriceTier, check_tiers, parse_tiers
from gateway.core.entered_number import entered_whole
from gateway.core.entered_text import entered_text
from gateway.core.errors import DomainError, FieldErrors, raise_all
from gateway.core.fraud.rules import FraudRules
from gateway.core.market import checked_zone, country_for_currency, local_moment, market_of
from gateway.core.money import UnknownCurrency, minor_digits
from gateway.core.texts import LANGUAGES

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
CANDIDATE_CODE = re.compile(r"^[0-9]{1,8}$")
MAX_NAME = 200  # the columns' sizes (gateway.db.models)
MAX_BIO = 5000  # a paragraph or three on a phone's screen
MAX_VOTES_LIMIT = 100_000
MAX_CSV_ROWS = 2000
MAX_STARS_PER_VOTE = 10_000
MAX_THRESHOLD = 1_000_000  # a fraud rule's count or seconds
FRAUD_FIELD = "fraud_"  # a form's field for a threshold: fraud_<name>
TRUE_WORDS = ("on", "true", "1", "yes")
T = TypeVar("T")


class BoardVisibility(StrEnum):
    LIVE = "live"  # counts shown as they move
    HIDDEN_COUNTS = "hidden_counts"  # ranks only
    FROZEN = "frozen"  # the board stops moving from a moment on (votes still count)
    SEALED = "sealed"  # no count and no rank anywhere public until the contest is closed


def board_visibility(show_counts: bool, frozen_at: datetime | None, sealed: bool) -> BoardVisibility:
    """The one choice an organiser sees, from the columns that keep it."""
    if sealed:
        return BoardVisibility.SEALED
    if frozen_at is not None:
        return BoardVisibility.FROZEN
    return BoardVisibility.LIVE if show_counts else BoardVisibility.HIDDEN_COUNTS


@dataclass(frozen=True)
class ContestDraft:
    name: str
    slug: str
    price_per_vote: int  # minor units
    currency: str
    max_votes_per_order: int
    opens_at: datetime
    closes_at: datetime
    providers: list[str]
    board: BoardVisibility
    default_language: str
    stars_per_vote: int | None = None  # None: not sold for Stars
    fraud_rules: FraudRules = FraudRules()
    board_frozen_at: datetime | None = None  # FROZEN from this moment (None: from the save)
    channel_settings: tuple[ContestSettingValues, ...] = ()  # each channel's own (gateway.core.channel_settings)
    country: str = "CM"  # ISO 3166-1 alpha-2 (gateway.core.market)
    time_zone: str = "Africa/Douala"  # IANA
    price_tiers: tuple[PriceTier, ...] = ()  # bundles, by votes (gateway.core.contests.price_tiers)
    free_votes: FreeVoteSettings | None = None  # None: the form says nothing of them, the contest's are kept
    # The published late-vote rule's grace (gateway.core.contests.late_votes); None: the form says nothing of it.
    late_grace_seconds: int | None = None


def _text(form: Mapping[str, Any], name: str, *, required: bool = True, limit: int = 200) -> str:
    return entered_text(form.get(name), name, limit=limit, required=required)


def _int(form: Mapping[str, Any], name: str, low: int, high: int) -> int:
    return entered_whole(form.get(name), name, low=low, high=high)


def flag(form: Mapping[str, Any], name: str) -> bool:
    """A checkbox (present as "on") or a JSON boolean; absent is False."""
    value = form.get(name)
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in ("off", "false", "0", "no", ""):
        return False
    raise DomainError(f"{name} must be true or false.", code="invalid_field", field=name)


def parse_fraud_rules(form: Mapping[str, Any]) -> FraudRules:
    """Thresholds from a JSON object `fraud_rules` or a form's `fraud_<name>` fields; a missing one keeps
    its default, 0 turns its rule off."""
    given = form.get("fraud_rules")
    if given is not None and not isinstance(given, Mapping):
        raise DomainError("fraud_rules must be an object of thresholds.", code="invalid_field", field="fraud_rules")
    values = dict(given or {})
    values.update({key.removeprefix(FRAUD_FIELD): value for key, value in form.items()
                   if key.startswith(FRAUD_FIELD) and key != "fraud_rules"})
    known = FraudRules.names()
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise DomainError(f"No fraud rule is called {unknown[0]}.", code="invalid_field", field="fraud_rules")
    gathered = Gathered()  # every threshold read, each wrong one on its own field (the rule's name)
    thresholds = {name: gathered.read(lambda name=name: _int(values, name, 0, MAX_THRESHOLD), 0)  # type: ignore[misc]
                  for name in known if str(values.get(name, "")).strip() != ""}
    raise_all(gathered.errors)
    return FraudRules(**thresholds)



def _stars(form: Mapping[str, Any]) -> int | None:
    value = form.get("stars_per_vote")
    if value is None or str(value).strip() == "":
        return None
    return _int(form, "stars_per_vote", 1, MAX_STARS_PER_VOTE)


def form_moment(form: Mapping[str, Any], name: str, zone: str | None = None) -> datetime:
    """ISO 8601; a time without a zone (a browser's datetime-local field) is the wall clock of `zone` (a contest's
    own, as its form says), else UTC."""
    text = _text(form, name, limit=40)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(f"{name} must be a date and time (2026-12-01T20:00).", code="invalid_field",
                          field=name) from None
    if moment.tzinfo:
        return moment
    return local_moment(moment, zone) if zone else moment.replace(tzinfo=UTC)


def parse_market(form: Mapping[str, Any], currency: str) -> tuple[str, str]:
    """The contest's country and time zone; a form without them (an API client of before) gets the currency's
    country and that country's main zone."""
    country = _text(form, "country", required=False, limit=2).upper() or country_for_currency(currency)
    market = market_of(country)
    zone = _text(form, "time_zone", required=False, limit=64) or market.time_zone
    checked_zone(zone)
    return market.country, zone


def listed(form: Mapping[str, Any], name: str) -> list[str]:
    """A list: a JSON array, or a form's text with its items on lines or between commas."""
    value = form.get(name)
    items = value if isinstance(value, list) else str(value or "").replace("\n", ",").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


class Gathered:
    """The errors of a form read whole: each field is read on its own, a wrong one leaves its default and its error."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def read(self, parse: Callable[[], T], default: T) -> T:
        try:
            return parse()
        except FieldErrors as exc:
            self.errors.extend(exc.errors)
        except DomainError as exc:
            self.errors.append(exc)
        return default


def _slug(form: Mapping[str, Any]) -> str:
    slug = _text(form, "slug", limit=64).lower()
    if not SLUG.match(slug):
        raise DomainError("slug: lowercase letters, digits and dashes.", code="invalid_field", field="slug")
    return slug


def _currency(form: Mapping[str, Any]) -> str:
    currency = _text(form, "currency", limit=3).upper()
    try:
        minor_digits(currency)
    except UnknownCurrency:
        raise DomainError(f"{currency} is not a currency.", code="invalid_field", field="currency") from None
    return currency


def _providers(form: Mapping[str, Any], providers: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(listed(form, "providers")))
    if not chosen or any(p not in providers for p in chosen):
        raise DomainError(f"providers: one or more of {', '.join(providers)}.", code="invalid_field",
                          field="providers")
    return chosen


def _board(form: Mapping[str, Any]) -> BoardVisibility:
    try:
        return BoardVisibility(_text(form, "board", required=False) or "live")
    except ValueError:
        raise DomainError("board: live, hidden_counts, frozen or sealed.", code="invalid_field",
                          field="board") from None


def _language(form: Mapping[str, Any]) -> str:
    language = _text(form, "default_language", required=False) or "fr"
    if language not in LANGUAGES:  # the voters' languages, Swahili included (the admin area's own are fewer)
        raise DomainError(f"default_language: one of {', '.join(LANGUAGES)}.", code="invalid_field",
                          field="default_language")
    return language


def _times(form: Mapping[str, Any], zone: str, gathered: Gathered) -> tuple[datetime, datetime]:
    opens_at = gathered.read(lambda: form_moment(form, "opens_at", zone), None)
    closes_at = gathered.read(lambda: form_moment(form, "closes_at", zone), None)
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        gathered.errors.append(DomainError("Voting must close after it opens.", code="invalid_field",
                                           field="closes_at"))
    unread = datetime.now(UTC)  # never kept: a wrong time raises below
    return opens_at or unread, closes_at or unread


def parse_contest(form: Mapping[str, Any], channels: Sequence[ChannelContestSettings] = (), *,
                  providers: Sequence[str]) -> ContestDraft:
    """The contest's own fields, and each channel's (`channels` parse theirs from the same form); `providers`: every
    provider the service knows (`Providers.names`), among which the contest's are chosen. Every field is read: a
    FieldErrors carries each wrong one, in the form's order."""
    gathered = Gathered()
    name = gathered.read(lambda: _text(form, "name"), "")
    slug = gathered.read(lambda: _slug(form), "")
    currency = gathered.read(lambda: _currency(form), "")
    price = gathered.read(lambda: _int(form, "price_per_vote", 1, 10**12), 1)
    max_votes = gathered.read(lambda: _int(form, "max_votes_per_order", 1, MAX_VOTES_LIMIT), 1)
    country, zone = gathered.read(lambda: parse_market(form, currency or "XAF"), ("CM", "UTC"))
    opens_at, closes_at = _times(form, zone, gathered)
    chosen: list[str] = gathered.read(lambda: _providers(form, providers), [])
    channel_settings = tuple(gathered.read(lambda channel=channel: channel.parse(form), None)  # type: ignore[misc]
                             for channel in channels)
    board = gathered.read(lambda: _board(form), BoardVisibility.LIVE)
    frozen_at = None
    if board is BoardVisibility.FROZEN and _text(form, "board_frozen_at", required=False, limit=40):
        frozen_at = gathered.read(lambda: form_moment(form, "board_frozen_at", zone), None)
    language = gathered.read(lambda: _language(form), "fr")
    stars = gathered.read(lambda: _stars(form), None)
    fraud_rules = gathered.read(lambda: parse_fraud_rules(form), FraudRules())
    no_tiers: tuple[PriceTier, ...] = ()
    tiers = gathered.read(lambda: check_tiers(parse_tiers(form.get("price_tiers")), price, max_votes), no_tiers)
    free_votes = gathered.read(lambda: parse_free_votes(form), None)
    grace = gathered.read(lambda: late_grace(form), None)
    raise_all(gathered.errors)
    return ContestDraft(name, slug, price, currency, max_votes, opens_at, closes_at, chosen, board,
                        language, stars, fraud_rules, frozen_at, tuple(s for s in channel_settings if s is not None),
                        country, zone, tiers, free_votes, grace)


MAX_LATE_GRACE_SECONDS = 3600


def late_grace(form: Mapping[str, Any]) -> int | None:
    """The late-vote rule's grace: `late_grace_seconds` (the API), or `late_grace_minutes` (the page); None when
    the form says nothing of it (the contest's own is kept). 0: only payments confirmed before the close count."""
    if form.get("late_grace_seconds") not in (None, ""):
        return _int(form, "late_grace_seconds", 0, MAX_LATE_GRACE_SECONDS)
    if form.get("late_grace_minutes") not in (None, ""):
        return 60 * _int(form, "late_grace_minutes", 0, MAX_LATE_GRACE_SECONDS // 60)
    return None


@dataclass(frozen=True)
class CandidateRow:
    line: int
    code: str | None  # None: the next free code is given
    name: str
    bio: str | None


def check_candidate_fields(name: str, code: str | None, bio: str | None = None) -> tuple[str, str | None]:
    """The name and bio to keep (trimmed; an empty bio is none), or a DomainError naming the field."""
    kept_name = entered_text(name, "name", limit=MAX_NAME, required=True, label="A candidate's name")
    if code is not None and not CANDIDATE_CODE.match(code):
        raise DomainError("A candidate's code is 1 to 8 digits.", code="invalid_field", field="code")
    return kept_name, entered_text(bio, "bio", limit=MAX_BIO, label="A candidate's bio") or None


def parse_candidates_csv(text: str, taken: set[str]) -> list[CandidateRow]:
    """Rows with a `name` column (and optional `code`, `bio`); every bad line named, or none imported."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {(field or "").strip().lower() for field in reader.fieldnames or []}
    if "name" not in columns:
        raise DomainError("The CSV needs a header line with a name column (code and bio optional).",
                          code="invalid_csv")
    rows: list[CandidateRow] = []
    problems: list[str] = []
    seen = set(taken)
    for record in reader:
        line = reader.line_num
        if len(rows) >= MAX_CSV_ROWS:
            raise DomainError(f"At most {MAX_CSV_ROWS} candidates at once.", code="invalid_csv")
        fields = {(key or "").strip().lower(): (value or "").strip() if isinstance(value, str) else ""
                  for key, value in record.items()}
        code = fields.get("code") or None
        name = fields.get("name", "")
        try:
            name, bio = check_candidate_fields(name, code, fields.get("bio"))
        except DomainError as exc:
            problems.append(f"line {line}: {exc.message}")
            continue
        if code is not None:
            code = code.zfill(2)
            if code in seen:
                problems.append(f"line {line}: the code {code} is already taken.")
                continue
            seen.add(code)
        rows.append(CandidateRow(line, code, name, bio))
    if problems:
        raise DomainError("Nothing imported. " + " ".join(problems), code="invalid_csv")
    if not rows:
        raise DomainError("The CSV has no candidates.", code="invalid_csv")
    return rows


def next_codes(taken: set[str], count: int) -> list[str]:
    """The lowest free codes, two digits (01, 02, …) until 99 is passed."""
    free: list[str] = []
    number = 1
    while len(free) < count:
        code = f"{number:02d}"
        if code not in taken:
            free.append(code)
        number += 1
    return free
