"""Property-based checks on what crosses the public boundary: the JSON API's vote model, phone
numbers and providers' amounts. Whatever arrives is either a clean value or a clear refusal, never anything else."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from channels.web.schemas import VoteRequest
from gateway.core.money import from_major, to_major_string
from gateway.core.phone import InvalidMsisdn, normalise_msisdn

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FIELD_VALUES = {
    "candidate": st.one_of(st.from_regex(r"\A[0-9]{1,9}\Z"), st.text(max_size=12), JSON),
    "quantity": st.one_of(st.integers(-5, 20_000), st.text(max_size=6), st.floats(allow_nan=False), JSON),
    "provider": st.one_of(st.sampled_from(["mtn", "orange", "stripe", "MTN", "paypal", ""]), JSON),
    "msisdn": st.one_of(st.none(), st.text(max_size=40), st.from_regex(r"\A\+?[0-9 ]{6,16}\Z"), JSON),
}
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@st.composite
def vote_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = {name: draw(values) for name, values in FIELD_VALUES.items() if draw(st.booleans())}
    if draw(st.booleans()):
        body[draw(st.text(max_size=8))] = draw(JSON)
    return body


@settings(deadline=None)  # a loaded machine's pauses are not the model's
@given(vote_bodies())
def test_a_vote_body_is_a_valid_order_or_a_validation_error(body: dict[str, Any]) -> None:
    try:
        vote = VoteRequest.model_validate(body)
    except ValidationError as refusal:
        assert refusal.errors()  # every refusal names at least one problem
        return
    assert_a_clean_order(vote, body)


def assert_a_clean_order(vote: VoteRequest, body: dict[str, Any]) -> None:
    assert re.fullmatch(r"[0-9]{1,8}", vote.candidate)
    assert type(vote.quantity) is int and 1 <= vote.quantity <= 10_000
    # A provider's name, in the form every provider's is: which ones pay is the contest's, asked later (a 400).
    assert re.fullmatch(r"[a-z][a-z0-9_]{0,31}", vote.provider)
    assert vote.msisdn is None or len(vote.msisdn) <= 32
    assert set(body) <= {"candidate", "quantity", "provider", "msisdn"}


VALID_VALUES = {
    "candidate": st.from_regex(r"\A[0-9]{1,8}\Z"),
    "quantity": st.integers(1, 10_000),
    "provider": st.sampled_from(["mtn", "orange", "stripe"]),
    "msisdn": st.one_of(st.none(), st.from_regex(r"\A\+?[0-9]{6,16}\Z")),
}
HOSTILE_VALUES = {
    "candidate": st.one_of(st.text(max_size=12), st.from_regex(r"\A[0-9]{9,12}\Z"), JSON),
    "quantity": st.one_of(st.integers(-5, 0), st.integers(10_001, 2**40), st.text(max_size=6), st.booleans(),
                          st.floats(allow_nan=True), JSON),
    "provider": st.one_of(st.text(max_size=8), JSON),
    "msisdn": st.one_of(st.text(min_size=33, max_size=60), st.integers(), JSON),  # only its length is the model's
}


@st.composite
def one_field_off(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A body valid but for one field (wrong, missing, or an unknown one): the refusal must name it."""
    body = {name: draw(values) for name, values in VALID_VALUES.items()}
    field = draw(st.sampled_from([*HOSTILE_VALUES, "missing", "unknown"]))
    if field == "missing":
        field = draw(st.sampled_from(["candidate", "quantity", "provider"]))
        del body[field]
    elif field == "unknown":
        field = draw(st.text(min_size=1, max_size=8).filter(lambda key: key not in VALID_VALUES))
        body[field] = draw(JSON)
    else:
        body[field] = draw(HOSTILE_VALUES[field])
    return field, body


@settings(deadline=None)  # a loaded machine's pauses are not the model's
@given(st.fixed_dictionaries(VALID_VALUES))
def test_every_well_formed_vote_body_is_taken(body: dict[str, Any]) -> None:
    assert_a_clean_order(VoteRequest.model_validate(body), body)


@settings(deadline=None)  # a loaded machine's pauses are not the model's
@given(one_field_off())
def test_a_vote_body_wrong_in_one_field_is_refused_for_that_field_or_is_clean(off: tuple[str, dict[str, Any]]) -> None:
    field, body = off
    try:
        vote = VoteRequest.model_validate(body)
    except ValidationError as refusal:
        assert {error["loc"][0] for error in refusal.errors()} == {field}  # the voter is told what to fix
        return
    assert_a_clean_order(vote, body)  # some "hostile" draws are fine (" 07 ", a short number)


@given(st.one_of(st.text(max_size=30), st.from_regex(r"\A(\+|00)?[0-9 ().-]{4,20}\Z")))
@example("4930000000000000")  # a German fixed line phonenumbers calls valid, one digit past E.164's 15
def test_any_text_is_a_valid_e164_number_or_refused(raw: str) -> None:
    try:
        number = normalise_msisdn(raw)
    except InvalidMsisdn:
        return
    assert E164.match(number), number
    assert phonenumbers.is_valid_number(phonenumbers.parse(number))
    assert normalise_msisdn(number) == number  # normalising twice changes nothing


@pytest.mark.parametrize(("raw", "expected"), [
    ("670000001", "+237670000001"), ("+237 6 70 00 00 01", "+237670000001"), ("00237670000001", "+237670000001"),
    ("237670000001", "+237670000001"), ("+225 07 07 00 00 01", "+2250707000001"),
])
def test_the_forms_voters_type_all_normalise_to_one_number(raw: str, expected: str) -> None:
    assert normalise_msisdn(raw) == expected


AMOUNT_TEXT = st.one_of(st.text(max_size=12), st.from_regex(r"\A-?[0-9]{0,25}(\.[0-9]{0,4})?(e-?[0-9]{1,7})?\Z"),
                        st.sampled_from(["NaN", "sNaN", "Infinity", "-inf", "1e999999", "9" * 30]))


@given(AMOUNT_TEXT, st.sampled_from(["XAF", "EUR"]))
def test_a_providers_amount_is_whole_minor_units_a_bigint_holds_or_refused(raw: str, currency: str) -> None:
    try:
        minor = from_major(raw, currency)
    except ValueError:
        return
    assert isinstance(minor, int) and -(2**63) < minor < 2**63
    assert Decimal(to_major_string(minor, currency)) == Decimal(raw.strip())
