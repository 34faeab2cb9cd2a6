"""What each of Daraja's result codes tells the voter, in English and French (pure logic, no I/O)."""

from __future__ import annotations

import pytest

from gateway.core.money_in.reasons import READABLE, readable_reason
from gateway.core.providers import PaymentState
from gateway.core.texts import CORE
from payments.mpesa.results import MEANINGS, meaning
from payments.mpesa.stk_push import result_status


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


@pytest.mark.parametrize("code", ["1032", "1037", "1019", "1", "2001", "1025", "9999"])
def test_only_daraja_s_documented_endings_are_final(code: str) -> None:
    assert meaning(code, None).final and meaning(code, None).state is not PaymentState.SUCCESSFUL


@pytest.mark.parametrize("code", ["0", "1001", "17", "4999", ""])
def test_success_a_held_phone_and_any_other_code_are_not_final(code: str) -> None:
    assert not meaning(code, "The transaction is still under processing").final


def test_a_query_answer_without_a_result_code_leaves_the_order_waiting() -> None:
    status = result_status("", None, 10, None)
    assert status.state is PaymentState.PENDING and not status.final and not status.start_again
