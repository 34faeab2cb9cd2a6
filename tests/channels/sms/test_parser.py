"""The SMS parser: the ways people really type a vote, and properties over any text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assembly.provider_list import PROVIDERS
from channels.sms.parser import Command, Request, parse
from gateway.kit.provider_parts import phone_wallets

LIMITS = {"VOTE": 50}
WORDS = phone_wallets(PROVIDERS).sms_words()  # the providers' own words for their wallets


@pytest.mark.parametrize(("text", "expected"), [
    ("VOTE 07", Request(Command.VOTE, "VOTE", "07", 1)),
    ("vote 07 5", Request(Command.VOTE, "VOTE", "07", 5)),
    ("VOTE07 x5", Request(Command.VOTE, "VOTE", "07", 5)),
    ("  Vote   7  5 ", Request(Command.VOTE, "VOTE", "7", 5)),
    ("VOTER 07 5", Request(Command.VOTE, "VOTE", "07", 5)),
    ("Votez 07 5 fois", Request(Command.VOTE, "VOTE", "07", 5)),
    ("VOTE 07 5 MTN", Request(Command.VOTE, "VOTE", "07", 5, "mtn")),
    ("vote om 07 2", Request(Command.VOTE, "VOTE", "07", 2, "orange")),
    ("VOTE 07 3 orange", Request(Command.VOTE, "VOTE", "07", 3, "orange")),
    ("VOTE 07 3 M-PESA", Request(Command.VOTE, "VOTE", "07", 3, "mpesa")),
    ("vote 07 mpesa", Request(Command.VOTE, "VOTE", "07", 1, "mpesa")),
    ("Vote 7 2 Airtel", Request(Command.VOTE, "VOTE", "7", 2, "airtel")),
    ("vôté 07", Request(Command.VOTE, "VOTE", "07", 1)),
    ("help", Request(Command.HELP)),
    ("Aide", Request(Command.HELP)),
    ("top", Request(Command.TOP)),
    ("TOP vote", Request(Command.TOP, keyword="VOTE")),
    ("stop", Request(Command.STOP)),
    ("Arrêt", Request(Command.STOP)),
    ("msaada", Request(Command.HELP)),  # Swahili, as the Swahili replies name the words
    ("Matokeo", Request(Command.TOP)),
    ("SITISHA", Request(Command.STOP)),
    ("vote 07 kura 5 mpesa", Request(Command.VOTE, "VOTE", "07", 5, "mpesa")),
    ("VOTE 07 0", Request(Command.BAD_QUANTITY, "VOTE", "07")),
    ("VOTE 07 51", Request(Command.BAD_QUANTITY, "VOTE", "07")),
    ("VOTE 07 99999999999", Request(Command.BAD_QUANTITY, "VOTE", "07")),
    ("hello", Request(Command.UNRECOGNISED)),
    ("VOTE", Request(Command.UNRECOGNISED)),
    ("VOTE 07 5 6", Request(Command.UNRECOGNISED)),
    ("VOTE please 07", Request(Command.UNRECOGNISED)),
    ("", Request(Command.UNRECOGNISED)),
])
def test_reads_what_voters_type(text: str, expected: Request) -> None:
    assert parse(text, LIMITS, WORDS) == expected


def test_the_keyword_picks_the_contest_on_a_shared_short_code() -> None:
    limits = {"VOTE": 10, "STAR": 20}
    assert parse("star 03 15", limits, WORDS) == Request(Command.VOTE, "STAR", "03", 15)
    assert parse("vote 03 15", limits, WORDS).command is Command.BAD_QUANTITY


def test_a_keyword_holding_digits_is_read_whole() -> None:
    """A contest's keyword may hold digits (STAR5): split into STAR and 5 it matched nothing, and every
    vote got the usage reply naming that very keyword."""
    limits = {"STAR5": 20, "VOTE": 10}
    assert parse("STAR5 07 3", limits, WORDS) == Request(Command.VOTE, "STAR5", "07", 3)
    assert parse("star5 7", limits, WORDS) == Request(Command.VOTE, "STAR5", "7", 1)
    assert parse("Star507 x3 MTN", limits, WORDS) == Request(Command.VOTE, "STAR5", "07", 3, "mtn")
    assert parse("STAR5R 07 2", limits, WORDS) == Request(Command.VOTE, "STAR5", "07", 2)
    assert parse("TOP star5", limits, WORDS) == Request(Command.TOP, keyword="STAR5")
    assert parse("STAR5 07 21", limits, WORDS).command is Command.BAD_QUANTITY
    assert parse("STAR5", limits, WORDS).command is Command.UNRECOGNISED
    assert parse("STAR 5 07", limits, WORDS).command is Command.UNRECOGNISED  # no contest is STAR
    assert parse("VOTE 07 5", limits, WORDS) == Request(Command.VOTE, "VOTE", "07", 5)
    assert parse("TOP5", limits, WORDS) == Request(Command.TOP)


@given(st.text(), st.dictionaries(st.sampled_from(["VOTE", "STAR", "MISS", "STAR5", "M2X"]), st.integers(1, 1000),
                                  min_size=1))
def test_never_raises_and_never_exceeds_the_limits(text: str, limits: dict[str, int]) -> None:
    request = parse(text, limits, WORDS)
    if request.command is Command.VOTE:
        assert request.keyword in limits
        assert 1 <= request.quantity <= limits[request.keyword or ""]
        assert request.candidate is not None and request.candidate.isdigit()


@given(st.integers(0, 10_000), st.integers(1, 100))
def test_any_quantity_outside_the_limits_is_refused(quantity: int, maximum: int) -> None:
    request = parse(f"VOTE 07 {quantity}", {"VOTE": maximum}, WORDS)
    if 1 <= quantity <= maximum:
        assert request == Request(Command.VOTE, "VOTE", "07", quantity)
    else:
        assert request.command is not Command.VOTE


def test_the_wallets_words_are_the_ones_handed_in() -> None:
    """The parser names no wallet: a provider's words (split by the reading, as `TOY-MONEY`) are its provider's, and
    a word no provider takes is no wallet."""
    toy = {"TOY-MONEY": "toy", "TOY": "toy"}
    assert parse("vote 07 2 toy money", LIMITS, toy) == Request(Command.VOTE, "VOTE", "07", 2, "toy")
    assert parse("VOTE 07 Toy", LIMITS, toy) == Request(Command.VOTE, "VOTE", "07", 1, "toy")
    assert parse("VOTE 07 MTN", LIMITS, toy).command is Command.UNRECOGNISED
    assert parse("VOTE 07 MTN", LIMITS, {}).command is Command.UNRECOGNISED
    assert parse("VOTE 07 mtn m-pesa", LIMITS, WORDS).command is Command.UNRECOGNISED  # one wallet a vote
