"""A failed statement's error, which logs and tracebacks print, names its SQL but never the values it was given:
those are TOTP secrets being sealed, phone numbers, provider references."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gateway.db.engine import Sessions

SECRET = "JBSWY3DPEHPK3PXP"


async def test_a_statements_error_does_not_print_the_values_it_was_given(sessions: Sessions) -> None:
    async with sessions() as session:
        with pytest.raises(DBAPIError) as raised:
            await session.execute(text("SELECT length(CAST(:secret AS text)) / 0"), {"secret": SECRET})
    printed = str(raised.value)
    assert "division by zero" in printed and "/ 0" in printed
    assert SECRET not in printed
