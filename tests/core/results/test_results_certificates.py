"""A certificate's data are the signed sheet's: places as the boards rank (ties share one), a jury's blend when the
sheet has one; its QR code's claim holds only against the sheet it names, under a signature that holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.core.errors import Conflict, DomainError
from gateway.core.results import signing
from gateway.core.results.certificates import (
    Claim,
    Verdict,
    certificate_for,
    check_claim,
    finalists,
    parse_claim,
    verify_query,
    verify_url,
)
from gateway.core.results.signing import SheetLine, SignedSheet

KEY = Ed25519PrivateKey.generate()
SIGNED_AT = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


def sheet_of(votes: dict[str, int], extra: bytes = b"", key: Ed25519PrivateKey = KEY) -> SignedSheet:
    lines = [SheetLine(code, f"Candidate {code}", count, {"XAF": count * 100}) for code, count in votes.items()]
    sheet = signing.sheet_csv("gala", "Gala", "XAF", lines, len(votes), b"\x01" * 32, SIGNED_AT) + extra
    return SignedSheet(7, "gala", "close", sheet, signing.sign(key, sheet), len(votes), b"\x01" * 32, SIGNED_AT)


def claim_of(query: dict[str, str]) -> Claim:
    claim = parse_claim(query)
    assert claim is not None
    return claim


def test_places_follow_the_votes_and_ties_share_a_place() -> None:
    signed = sheet_of({"01": 5, "02": 9, "03": 5, "04": 1})
    assert [(c.code, c.place, c.votes) for c in finalists(signed, 3)] == [("02", 1, 9), ("01", 2, 5), ("03", 2, 5)]
    assert certificate_for(signed, "04").place == 4
    with pytest.raises(DomainError):
        certificate_for(signed, "09")


def test_a_revealed_jury_ranks_by_its_blend_and_a_sealed_one_decides_nothing() -> None:
    blend = (b"formula,,50% public + 50% jury,50,50,\njury,01,Candidate 01,30,,points\n"
             b"jury,02,Candidate 02,2,,points\nblend,code,rank,public_share_pct,jury_share_pct,score_pct\n"
             b"blend,01,1,33.33,93.75,63.54\nblend,02,2,66.67,6.25,36.46\n")
    signed = sheet_of({"01": 5, "02": 10}, blend)
    winner = certificate_for(signed, "01")
    assert (winner.place, winner.votes, winner.jury) == (1, 5, 30)
    assert check_claim(claim_of(verify_query(winner)), signed, KEY.public_key()).verdict is Verdict.MATCHES
    with pytest.raises(Conflict):
        certificate_for(sheet_of({"01": 5}, b"formula,,50% public + 50% jury,50,50,\njury,,sealed,,,\n"), "01")


def test_a_claim_holds_only_as_signed() -> None:
    signed = sheet_of({"01": 5, "02": 9})
    data = certificate_for(signed, "02")
    url = verify_url("https://vote.example/", data)
    assert url.startswith("https://vote.example/verify?sheet=7&digest=") and "code=02&place=1&votes=9" in url
    claim = parse_claim(verify_query(data))
    assert claim is not None
    assert check_claim(claim, signed, KEY.public_key()).verdict is Verdict.MATCHES

    forged = check_claim(claim_of({**verify_query(data), "votes": "90"}), signed, KEY.public_key())
    assert forged.verdict is Verdict.DIFFERS and forged.differing == ("votes",) and forged.truth is not None
    assert forged.truth.votes == 9
    promoted = check_claim(claim_of({**verify_query(data), "code": "01"}), signed, KEY.public_key())
    assert promoted.verdict is Verdict.DIFFERS and promoted.differing == ("place", "votes")
    with_jury = check_claim(claim_of({**verify_query(data), "jury": "40"}), signed, KEY.public_key())
    assert with_jury.differing == ("jury",)

    other_key = Ed25519PrivateKey.generate().public_key()
    assert check_claim(claim, signed, other_key).verdict is Verdict.BAD_SIGNATURE
    assert check_claim(claim, sheet_of({"01": 5, "02": 10}), KEY.public_key()).verdict is Verdict.UNKNOWN_SHEET
    assert check_claim(claim, None, KEY.public_key()).verdict is Verdict.UNKNOWN_SHEET


def test_a_damaged_address_is_refused_and_a_receipt_look_up_is_no_claim() -> None:
    assert parse_claim({"reference": "1A2B3C4D"}) is None
    good = verify_query(certificate_for(sheet_of({"01": 1}), "01"))
    for damaged in ({"digest": "zz"}, {"votes": "-3"}, {"place": "1e9"}, {"code": ""}, {"sheet": "x"},
                    {"votes": "9" * 20}):
        with pytest.raises(DomainError):
            parse_claim({**good, **damaged})


def test_a_rounds_sheet_names_its_round_on_the_certificate_and_in_its_claim() -> None:
    plain = sheet_of({"01": 3, "02": 8})
    header, contest_line, rest = plain.sheet.split(b"\n", 2)
    sheet = header + b"\n" + contest_line + b"\nround,2,Semi-final,,,result\nthrough,02,,,,\n" + rest
    signed = SignedSheet(8, "gala", "round", sheet, signing.sign(KEY, sheet), 2, b"\x01" * 32, SIGNED_AT)
    data = certificate_for(signed, "02")
    assert (data.round, data.place, data.votes) == ("Semi-final", 1, 8)
    assert verify_query(data)["round"] == "Semi-final"
    assert check_claim(claim_of(verify_query(data)), signed, KEY.public_key()).verdict is Verdict.MATCHES
    final = check_claim(claim_of({**verify_query(data), "round": "Final"}), signed, KEY.public_key())
    assert final.differing == ("round",)


def test_free_votes_counted_with_the_paid_ones_are_the_certificates_votes_and_apart_ones_are_not() -> None:
    counted = sheet_of({"01": 5, "02": 6}, b"free,01,Candidate 01,4,,counted\nfree,02,Candidate 02,0,,counted\n"
                                         b"total_free,,,4,,counted\n")
    assert [(c.code, c.place, c.votes) for c in finalists(counted, 2)] == [("01", 1, 9), ("02", 2, 6)]
    apart = sheet_of({"01": 5, "02": 6}, b"free,01,Candidate 01,4,,apart\nfree,02,Candidate 02,0,,apart\n"
                                       b"total_free,,,4,,apart\n")
    assert [(c.code, c.place, c.votes) for c in finalists(apart, 2)] == [("02", 1, 6), ("01", 2, 5)]
