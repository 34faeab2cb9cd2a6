"""Africa's Talking's USSD forms, validated: every field arrives as a string we check ourselves."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core.errors import DomainError
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.db.storable import storable_strings

PRINTABLE = re.compile(r"[\x21-\x7e]+")  # ids and service codes: visible ASCII, no spaces
MAX_SESSION_ID = 100  # ussd_session_events.session_id
MAX_SERVICE_CODE = 32  # ussd_contests.service_codes
MAX_TEXT = 1000  # a 180 s session never types this much
MAX_VALUE = 1000


class InvalidForm(DomainError):
    """A callback that is not a well-formed AT form: answered 400, nothing created."""

    status = 400
    code = "invalid_form"


@dataclass(frozen=True)
class Hit:
    """One USSD hop."""

    session_id: str
    service_code: str
    msisdn: str  # E.164
    network_code: str
    text: str


@dataclass(frozen=True)
class SessionEnd:
    """AT's end-of-session notification."""

    session_id: str
    status: str  # Success | Incomplete | Failed
    msisdn: str | None
    payload: dict[str, str]


def strings(form: Mapping[str, object]) -> dict[str, str]:
    """The form's text fields (file parts are not AT's and are ignored)."""
    return {key: value for key, value in form.items() if isinstance(value, str)}


def required(form: Mapping[str, str], name: str, limit: int, pattern: re.Pattern[str] | None = PRINTABLE) -> str:
    value = form.get(name)
    if value is None or (pattern is not None and not value):
        raise InvalidForm(f"{name} is required.", field=name)
    if len(value) > limit or (pattern is not None and not pattern.fullmatch(value)):
        raise InvalidForm(f"{name} is not valid.", field=name)
    return value


def phone(form: Mapping[str, str]) -> str:
    raw = required(form, "phoneNumber", 32, pattern=None)
    try:
        return normalise_msisdn(raw)
    except InvalidMsisdn as exc:
        raise InvalidForm("phoneNumber is not a valid phone number.", field="phoneNumber") from exc


def parse_hit(form: Mapping[str, object]) -> Hit:
    fields = strings(form)
    return Hit(
        session_id=required(fields, "sessionId", MAX_SESSION_ID),
        service_code=required(fields, "serviceCode", MAX_SERVICE_CODE),
        msisdn=phone(fields),
        network_code=fields.get("networkCode", "")[:32],
        text=required(fields, "text", MAX_TEXT, pattern=None),  # "" on the first hit
    )


def parse_session_end(form: Mapping[str, object]) -> SessionEnd:
    fields = strings(form)
    session_id = required(fields, "sessionId", MAX_SESSION_ID)
    status = required(fields, "status", 32)
    try:
        msisdn: str | None = normalise_msisdn(fields.get("phoneNumber", ""))
    except InvalidMsisdn:
        msisdn = None  # a notification is kept even when its number is odd
    payload = storable_strings({key: value[:MAX_VALUE] for key, value in fields.items()})
    return SessionEnd(session_id, status, msisdn, payload)
