"""Africa's Talking's SMS forms (inbound message, delivery report), validated: every field is a string we
check ourselves; a malformed form is a 400 that creates nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.core.errors import DomainError
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.db.storable import storable

PRINTABLE = re.compile(r"[\x21-\x7e]+")  # ids, short codes: visible ASCII, no spaces
MAX_ID = 100  # sms_inbound.at_id, sms_messages.at_message_id
MAX_SHORT_CODE = 32
MAX_TEXT = 1600  # ten concatenated parts; AT's own limit is lower
MAX_LINK_ID = 200
# AT sends either shape (protocols.md §2); both are UTC.
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%fZ")
DELIVERY_STATUSES = frozenset({"Sent", "Submitted", "Buffered", "Success", "Failed", "Rejected", "Expired"})
FINAL_FAILURES = frozenset({"Failed", "Rejected", "Expired"})


class InvalidForm(DomainError):
    """A callback that is not a well-formed AT form: answered 400, nothing created."""

    status = 400
    code = "invalid_form"


@dataclass(frozen=True)
class Inbound:
    at_id: str
    msisdn: str  # E.164
    short_code: str
    text: str
    sent_at: datetime
    link_id: str | None
    network_code: str | None


@dataclass(frozen=True)
class DeliveryReport:
    at_message_id: str
    status: str
    failure_reason: str | None


def strings(form: Mapping[str, object]) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


def required(form: Mapping[str, str], name: str, limit: int, pattern: re.Pattern[str] | None = PRINTABLE) -> str:
    value = form.get(name)
    if not value:
        raise InvalidForm(f"{name} is required.", field=name)
    if len(value) > limit or (pattern is not None and not pattern.fullmatch(value)):
        raise InvalidForm(f"{name} is not valid.", field=name)
    return value


def optional(form: Mapping[str, str], name: str, limit: int) -> str | None:
    value = form.get(name) or None
    if value is not None and (len(value) > limit or not PRINTABLE.fullmatch(value)):
        raise InvalidForm(f"{name} is not valid.", field=name)
    return value


def parse_date(value: str) -> datetime:
    for shape in DATE_FORMATS:
        try:
            return datetime.strptime(value, shape).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidForm("date is not a date Africa's Talking sends.", field="date")


def parse_inbound(form: Mapping[str, object]) -> Inbound:
    fields = strings(form)
    try:
        msisdn = normalise_msisdn(required(fields, "from", 32, pattern=None))
    except InvalidMsisdn as exc:
        raise InvalidForm("from is not a valid phone number.", field="from") from exc
    text = fields.get("text")
    if text is None or len(text) > MAX_TEXT:
        raise InvalidForm("text is required.", field="text")
    return Inbound(
        at_id=required(fields, "id", MAX_ID),
        msisdn=msisdn,
        short_code=required(fields, "to", MAX_SHORT_CODE),
        text=storable(text),
        sent_at=parse_date(required(fields, "date", 40, pattern=None)),
        link_id=optional(fields, "linkId", MAX_LINK_ID),
        network_code=optional(fields, "networkCode", 32),
    )


def parse_delivery(form: Mapping[str, object]) -> DeliveryReport:
    fields = strings(form)
    status = required(fields, "status", 32)
    if status not in DELIVERY_STATUSES:
        raise InvalidForm("status is not one Africa's Talking reports.", field="status")
    return DeliveryReport(required(fields, "id", MAX_ID), status, optional(fields, "failureReason", 100))
