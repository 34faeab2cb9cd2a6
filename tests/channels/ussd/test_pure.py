"""The USSD channel's other pure pieces: screen pages, texts, AT forms, contest views."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from assembly.provider_list import PROVIDERS
from channels.phone.gsm7 import is_gsm7, texted
from channels.phone.texts import provider_label, vote_messages
from channels.ussd.forms import InvalidForm, parse_hit, parse_session_end
from channels.ussd.layout import LIST_BUDGET, paginate
from channels.ussd.session import contest_from_json, contest_to_json
from channels.ussd.texts import LANGUAGE_OPTIONS, UNKNOWN_SERVICE, texts
from channels.ussd.views import BoardMode, build_view, why_unavailable
from gateway.core.contests.rules import VotingState
from gateway.core.texts import Lang
from tests.channels.ussd.menus import BOTH, NOW, record, view


def test_paginate_never_loses_an_item_or_overflows() -> None:
    items = [f"{i:02d} " + "n" * (i * 7 % 40) for i in range(1, 30)]
    pages = paginate(["Header:"], items, ["98 More 0 Back"], ["0 Back"])
    listed = [line for page in pages for line in page if line[:2].isdigit() and not line.startswith("98 ")]
    assert [line[:2] for line in listed] == [item[:2] for item in items]
    assert all(len("\n".join(page)) <= LIST_BUDGET for page in pages)
    assert all(page[-1] == "98 More 0 Back" for page in pages[:-1]) and pages[-1][-1] == "0 Back"
    assert paginate(["H"], [], ["more"], ["last"]) == (("H", "last"),)


def test_every_text_is_gsm7() -> None:
    for words in (*(texts(lang) for lang in Lang), *(vote_messages(lang) for lang in Lang)):
        for value in vars(words).values():
            strings = value.values() if isinstance(value, dict) else value if isinstance(value, tuple) else [value]
            assert all(is_gsm7(s) and texted(s) == s for s in strings), value  # docs/texts.md's rule for accents
    wallets = [provider_label(parts.name, parts.label) for parts in PROVIDERS if parts.phone_wallet is not None]
    assert wallets == [parts.label for parts in PROVIDERS if parts.phone_wallet is not None]  # as declared
    labels = [UNKNOWN_SERVICE, *wallets, *(label for _, _, label in LANGUAGE_OPTIONS)]
    assert all(is_gsm7(s) and texted(s) == s for s in labels)


# Africa's Talking forms.

FORM = {"sessionId": "ATUid_1", "serviceCode": "*384*123#", "phoneNumber": "+237670000001",
        "networkCode": "62401", "text": "1*07"}


def test_parse_hit() -> None:
    hit = parse_hit(FORM)
    assert (hit.session_id, hit.service_code, hit.msisdn, hit.network_code, hit.text) == (
        "ATUid_1", "*384*123#", "+237670000001", "62401", "1*07")
    assert parse_hit({**FORM, "text": "", "phoneNumber": "237670000001"}).msisdn == "+237670000001"
    assert parse_hit({key: value for key, value in FORM.items() if key != "networkCode"}).network_code == ""


@pytest.mark.parametrize(("change", "field"), [
    ({"sessionId": None}, "sessionId"), ({"sessionId": ""}, "sessionId"), ({"sessionId": "a b"}, "sessionId"),
    ({"sessionId": "x" * 101}, "sessionId"), ({"serviceCode": None}, "serviceCode"),
    ({"serviceCode": "*" * 33}, "serviceCode"), ({"phoneNumber": None}, "phoneNumber"),
    ({"phoneNumber": ""}, "phoneNumber"), ({"phoneNumber": "12"}, "phoneNumber"),
    ({"phoneNumber": "not a number"}, "phoneNumber"), ({"text": None}, "text"), ({"text": "1" * 1001}, "text"),
])
def test_a_malformed_hit_names_its_field(change: dict[str, str | None], field: str) -> None:
    form = {key: value for key, value in {**FORM, **change}.items() if value is not None}
    with pytest.raises(InvalidForm) as raised:
        parse_hit(form)
    assert raised.value.field == field and raised.value.status == 400


def test_parse_session_end() -> None:
    event = parse_session_end({"sessionId": "ATUid_1", "status": "Incomplete", "phoneNumber": "+237670000001",
                               "input": "1*07", "cost": "KES 0.00", "hopsCount": "3"})
    assert (event.session_id, event.status, event.msisdn) == ("ATUid_1", "Incomplete", "+237670000001")
    assert event.payload["input"] == "1*07" and event.payload["hopsCount"] == "3"
    assert parse_session_end({"sessionId": "s", "status": "Failed", "phoneNumber": "junk"}).msisdn is None
    with pytest.raises(InvalidForm):
        parse_session_end({"status": "Failed"})


# Contest views.

def test_availability_and_board() -> None:
    assert view().availability is VotingState.OPEN
    assert view(status="draft").availability is VotingState.CLOSED
    assert view(closes_at=NOW).availability is VotingState.CLOSED
    assert view(board_frozen_at=NOW + timedelta(hours=1)).board is BoardMode.COUNTS
    assert view(board_frozen_at=NOW).board is BoardMode.HIDDEN
    assert view(show_counts=False).board is BoardMode.RANKS


def test_why_unavailable_prefers_the_most_telling_contest() -> None:
    closed, paused = view(slug="a", status="closed"), view(slug="b", status="paused")
    later = view(slug="c", opens_at=NOW + timedelta(days=1))
    assert why_unavailable((closed, later, paused)) is paused
    assert why_unavailable((closed, later)) is later
    assert why_unavailable((closed, view(slug="d", status="closed"))).slug == "d"
    assert why_unavailable(()) is None


def test_contest_record_round_trips_through_json() -> None:
    original = record(board_frozen_at=NOW, eliminated=("02",))
    assert contest_from_json(json.loads(json.dumps(contest_to_json(original)))) == original
    assert build_view(original, NOW, BOTH).candidate("2").active is False  # type: ignore[union-attr]


def test_a_record_cached_with_its_service_codes_still_reads() -> None:
    """A release before kept a contest's USSD codes on it, and its cached records outlive the deploy by minutes."""
    original = record()
    cached = {**json.loads(json.dumps(contest_to_json(original))), "ussd_service_codes": ["*384*123#"]}
    assert contest_from_json(cached) == original


def test_languages_parse() -> None:
    assert Lang.parse("en") is Lang.EN and Lang.parse("xx") is None and Lang.parse(None) is None
