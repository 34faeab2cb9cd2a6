"""A caller's list of votes on USSD shows a vote paid after the lines closed and their grace as refunded (its money
goes back by itself), in the caller's language, never as the status's code."""

from __future__ import annotations

import pytest

from channels.ussd.texts import texts
from gateway.core.texts import Lang


@pytest.mark.parametrize("lang", list(Lang))
def test_a_late_vote_reads_as_refunded(lang: Lang) -> None:
    words = texts(lang).statuses
    assert words["late"] == words["refunded"]
