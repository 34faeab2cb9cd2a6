"""The pure parts of the public pages: language choice, numbers and reasons in words, CSRF tokens,
and which address a vote is counted against."""

from __future__ import annotations

import io

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import ValidationError
from redis.asyncio import Redis

from assembly.settings import Environment, Settings
from channels.web import csrf
from channels.web.board_view import Board, board_rows
from channels.web.i18n import Translator, choose_language, from_accept_language, mask_phone
from channels.web.pictures import Picture
from gateway.core.contests.ranking import BoardTop, CandidateInfo, rank_candidates
from gateway.kit import throttle
from gateway.kit.keys import SETTINGS
from gateway.kit.throttle import client_address
from tests.servers import free_port


@pytest.mark.parametrize(("header", "expected"), [
    ("en-GB,en;q=0.9,fr;q=0.8", "en"), ("fr-CM, en;q=0.5", "fr"), ("de, en;q=0.2", "en"),
    ("en;q=0, fr;q=0.1", "fr"), ("de-DE", None), ("", None), ("en;q=abc", None), ("sw-KE,en;q=0.5", "sw"),
    ("de, sw-TZ;q=0.3, en;q=0.2", "sw")])
def test_accept_language(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def test_query_beats_cookie_beats_browser_beats_contest() -> None:
    def lang(path: str, headers: dict[str, str]) -> tuple[str, bool]:
        return choose_language(make_mocked_request("GET", path, headers=headers), "en")

    assert lang("/?lang=fr", {"Cookie": "ballot_lang=en"}) == ("fr", True)
    assert lang("/", {"Cookie": "ballot_lang=fr", "Accept-Language": "en"}) == ("fr", False)
    assert lang("/", {"Accept-Language": "fr"}) == ("fr", False)
    assert lang("/?lang=xx", {}) == ("en", False)


def test_money_votes_and_reasons_in_each_language() -> None:
    fr, en = Translator("fr"), Translator("en")
    assert fr.money(150000, "XAF") == "150\u202f000\u00a0FCFA" and en.money(150000, "XAF") == "FCFA\u00a0150,000"
    assert fr.money(1250, "EUR") == "12,50\u00a0€" and en.money(1250, "EUR") == "€12.50"
    assert (fr.votes(0), fr.votes(1), fr.votes(2)) == ("0 vote", "1 vote", "2 votes")
    assert (en.votes(0), en.votes(1)) == ("0 votes", "1 vote")
    reason = "The payment was declined on the phone. (APPROVAL_REJECTED)"
    assert en.reason(reason) == "The payment was declined on the phone." and en.reason("WRONG_PIN").endswith("phone.")
    assert fr.reason(reason) == "Le paiement a été refusé sur le téléphone."  # words alone, never the code
    assert fr.reason("no payment in time") == "Le paiement a échoué."  # nor English words in French
    assert fr.reason("The balance is low (M-Pesa 2028)") == "Le paiement a échoué."
    sw = Translator("sw")
    assert sw.money(150000, "KES") == "Ksh\u00a01,500.00" and (sw.votes(1), sw.votes(2)) == ("kura 1", "kura 2")
    assert sw.reason(reason) == "Malipo yamekataliwa kwenye simu."
    assert sw.others == ("fr", "en") and fr.others == ("en", "sw") and Translator.own_name("sw") == "Kiswahili"
    assert mask_phone("+237670000001") == "+237 •••••• 001"


def test_csrf_token_is_the_signature_of_the_cookie() -> None:
    first = csrf.issue(make_mocked_request("GET", "/"), "secret", secure=False)
    assert first.fresh and first.token == csrf.sign("secret", first.cookie)
    cookie = {"Cookie": f"{csrf.COOKIE}={first.cookie}"}
    again = csrf.issue(make_mocked_request("GET", "/", headers=cookie), "secret", secure=False)
    assert not again.fresh and again.token == first.token
    post = make_mocked_request("POST", "/", headers=cookie)
    assert csrf.verify(post, {csrf.FIELD: first.token}, "secret", secure=False)
    assert not csrf.verify(post, {csrf.FIELD: csrf.sign("other secret", first.cookie)}, "secret", secure=False)
    assert not csrf.verify(post, {csrf.FIELD: "é" * 64}, "secret", secure=False)
    assert not csrf.verify(make_mocked_request("POST", "/"), {csrf.FIELD: first.token}, "secret", secure=False)
    # Over HTTPS only the __Host- cookie counts: a plain one (settable by a sibling host) is ignored.
    assert not csrf.verify(post, {csrf.FIELD: first.token}, "secret", secure=True)
    host_only = make_mocked_request("POST", "/", headers={"Cookie": f"{csrf.SECURE_COOKIE}={first.cookie}"})
    assert csrf.verify(host_only, {csrf.FIELD: first.token}, "secret", secure=True)


def test_a_token_that_is_not_text_never_verifies() -> None:
    """A multipart form may carry the token as a file or raw bytes: refused, never a 500."""
    first = csrf.issue(make_mocked_request("GET", "/"), "secret", secure=False)
    post = make_mocked_request("POST", "/", headers={"Cookie": f"{csrf.COOKIE}={first.cookie}"})
    upload = web.FileField(name=csrf.FIELD, filename="t.txt", file=io.BytesIO(first.token.encode()),
                           content_type="text/plain", headers=CIMultiDictProxy(CIMultiDict()))
    for odd in (first.token.encode(), bytearray(first.token.encode()), upload):
        assert not csrf.verify(post, {csrf.FIELD: odd}, "secret", secure=False)


@pytest.mark.parametrize("planted", [
    "A" * 43,  # the shape a cookie used to have
    f"{'A' * 43}.{'0' * 64}",
    csrf.new_cookie("the attacker's guess at the secret"),  # the right shape, MAC'd with another secret
    f"{'A' * 43}.{'0' * 64}.x", "é" * 43 + ".abc", ".", "",
])
def test_a_cookie_we_did_not_issue_yields_no_token(planted: str) -> None:
    cookie = {"Cookie": f"{csrf.COOKIE}={planted}"}
    issued = csrf.issue(make_mocked_request("GET", "/", headers=cookie), "secret", secure=False)
    assert issued.fresh and issued.cookie != planted  # replaced, not signed
    post = make_mocked_request("POST", "/", headers=cookie)
    for token in (csrf.sign("secret", planted), issued.token):
        assert not csrf.verify(post, {csrf.FIELD: token}, "secret", secure=False)


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "expected"), [
    ("41.202.219.10", "198.51.100.1", None, "41.202.219.10"),  # a public peer cannot choose its address
    ("127.0.0.1", "198.51.100.1, 203.0.113.7", None, "203.0.113.7"),  # development trusts loopback: the hop it saw
    ("::ffff:127.0.0.1", "203.0.113.7", None, "203.0.113.7"),  # the same proxy through a dual-stack socket
    ("172.18.0.1", "198.51.100.1", None, "172.18.0.1"),  # a private peer is not our proxy unless named
    ("10.0.0.3", "198.51.100.1", None, "10.0.0.3"),
    ("172.18.0.1", "198.51.100.1, 203.0.113.7", "172.16.0.0/12", "203.0.113.7"),
    ("10.0.0.5", "198.51.100.1, 203.0.113.7, 10.0.0.9", "10.0.0.0/8, 127.0.0.1", "203.0.113.7"),  # two proxies
    ("10.0.0.5", "10.0.0.7, 10.0.0.9", "10.0.0.0/8", "10.0.0.7"),  # all ours: the left-most hop
    ("127.0.0.1", "203.0.113.7", "", "127.0.0.1"),  # TRUSTED_PROXIES="" trusts nobody
    ("172.18.0.1", "not an address", "172.16.0.0/12", "172.18.0.1"),
    ("172.18.0.1", "203.0.113.7, not an address", "172.16.0.0/12", "172.18.0.1"),
    ("2001:db8:1:2:3:4:5:6", "", None, "2001:db8:1:2::/64"),
])
def test_client_address(peer: str, forwarded: str, trusted: str | None, expected: str) -> None:
    assert address_of(peer, forwarded, Settings(_env_file=None, trusted_proxies=trusted)) == expected


def test_production_trusts_no_forwarded_header_unless_told() -> None:
    production = Settings(_env_file=None, gateway_env=Environment.PRODUCTION)
    assert address_of("127.0.0.1", "203.0.113.7", production) == "127.0.0.1"
    told = Settings(_env_file=None, gateway_env=Environment.PRODUCTION, trusted_proxies="127.0.0.1")
    assert address_of("127.0.0.1", "203.0.113.7", told) == "203.0.113.7"


def test_a_mistyped_trusted_proxy_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES: '10.0.0.0/33'"):
        Settings(_env_file=None, trusted_proxies="127.0.0.1, 10.0.0.0/33")


def address_of(peer: str, forwarded: str, settings: Settings) -> str:
    class Transport:
        def get_extra_info(self, name: str, default: object = None) -> object:
            return (peer, 40000) if name == "peername" else default

    app = web.Application()
    app[SETTINGS] = settings
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client_address(make_mocked_request("POST", "/c/x/vote", headers=headers, transport=Transport(), app=app))


def board_of(votes: dict[str, int], show_counts: bool) -> Board:
    candidates = tuple(CandidateInfo(i, code, f"Candidate {code}") for i, code in enumerate(votes, start=1))
    rows = rank_candidates(candidates, {c.id: votes[c.code] for c in candidates})
    return board_rows(BoardTop(tuple(rows), show_counts, False), {"01": Picture("https://img.example/01.jpg")})


def test_equal_votes_share_a_rank() -> None:
    rows = board_of({"01": 3, "10": 5, "02": 5, "03": 0}, True).rows
    assert [(r.code, r.rank) for r in rows] == [("02", 1), ("10", 1), ("01", 3), ("03", 4)]
    assert [r.picture.src for r in rows if r.picture] == ["https://img.example/01.jpg"]
    assert [r.share for r in rows] == [385, 385, 231, 0]  # tenths of a percent of 13 votes
    assert all(r.votes is None and r.share is None for r in board_of({"01": 3}, False).rows)


async def test_with_redis_away_a_limit_answers_what_its_caller_chose() -> None:
    """Votes fail open (nothing to count them with, and a show does not stop for a cache); extra
    work that only Redis could ration fails closed."""
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        assert await throttle.hit(redis, "web-vote:41.202.1.1", 30, 60) is True
        assert await throttle.once_per(redis, "web-order-check:x", 10, if_unavailable=False) is False
    finally:
        await redis.aclose()
