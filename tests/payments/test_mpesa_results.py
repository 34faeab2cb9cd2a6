"""What each of Daraja's result codes tells the voter, in English and French (pure logic, no I/O)."""

from __future__ import annotations

import pytest

from gateway.core.payments.reasons import READABLE, readable_reason
from gateway.core.providers import PaymentState
from gateway.core.texts import CORE
from payments.mpesa.results import MEANINGS, meaning


@pytest.mark.parametrize("code", sorted(set(MEANINGS) - {"0"}))
def test_every_refusal_code_reads_as_a_sentence_in_english_and_french(code: str) -> None:
    reason = MEANINGS[code].reason
    assert reason in READABLE
    english = readable_reason(reason)
    french = CORE.translations("fr").gettext(READABLE[reason])
    assert english.endswith(f"({reason})") and len(english) > 30
    assert french != READABLE[reason] and len(french) > 20


def test_an_open_prompt_on_the_phone_never_fails_the_vote() -> None:
    assert meaning("1001", "Unable to lock subscriber").state is PaymentState.PENDING
    assert "finish it first" in readable_reason(MEANINGS["1001"].reason)


def test_an_unknown_code_fails_with_safaricoms_own_words_and_the_code() -> None:
    unknown = meaning("1234", "Something new at Safaricom")
    assert unknown.state is PaymentState.FAILED
    assert readable_reason(unknown.reason) == "Something new at Safaricom (M-Pesa 1234)"
