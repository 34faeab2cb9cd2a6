"""What an organiser types into a text column, checked by one rule: trimmed, not longer than the column
allows, and storable as it stands (gateway.db.storable). A NUL or a lone surrogate (a JSON body may
carry `\\ud800`) is refused with the field's name rather than reaching PostgreSQL, which would refuse
it with a 500, or being changed behind the organiser's back."""

from __future__ import annotations

from gateway.core.errors import DomainError
from gateway.db.storable import is_storable


def entered_text(value: object, field: str, *, limit: int, required: bool = False, label: str | None = None) -> str:
    """`value` as text to keep, or a DomainError naming `field` (`label` is how the message calls it)."""
    text = "" if value is None else str(value).strip()
    name = label or field
    if required and not text:
        raise DomainError(f"{name} is required.", code="invalid_field", field=field)
    if len(text) > limit:
        raise DomainError(f"{name} is at most {limit} characters.", code="invalid_field", field=field)
    if not is_storable(text):
        raise DomainError(f"{name} holds a character that cannot be kept (NUL, or a broken one).",
                          code="invalid_field", field=field)
    return text
