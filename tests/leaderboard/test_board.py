"""The pure parts: ranking, visibility, ETags, Last-Event-ID, coalescing and SSE framing."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from gateway.kit.throttle import address_key
from leaderboard import sse
from leaderboard.board import (
    BoardContest,
    CandidateInfo,
    Rendered,
    Tallies,
    etag_for,
    etag_matches,
    is_frozen,
    needs_first_frame,
    parse_last_event_id,
    public_board,
    rank_candidates,
    render,
)
from leaderboard.cache import channel_name, channel_pattern, contest_from_channel
from leaderboard.hub import Frame, flush_delay, reuse_newest

CANDIDATES = tuple(CandidateInfo(id_, f"{id_:02d}", f"Name {id_}") for id_ in range(1, 6))


def view(show_counts: bool = True) -> BoardContest:
    return BoardContest(7, "miss-cameroun", show_counts, None, CANDIDATES)


def test_ties_share_a_rank_and_the_next_rank_skips() -> None:
    rows = rank_candidates(CANDIDATES, {1: 10, 2: 30, 3: 10, 4: 30, 5: 2})
    assert [(row.candidate.code, row.votes, row.rank) for row in rows] == [
        ("02", 30, 1), ("04", 30, 1), ("01", 10, 3), ("03", 10, 3), ("05", 2, 5),
    ]


def test_candidates_without_votes_tie_last_in_code_order() -> None:
    candidates = (CandidateInfo(1, "10", "Ten"), CandidateInfo(2, "9", "Nine"), CandidateInfo(3, "02", "Two"))
    rows = rank_candidates(candidates, {})
    assert [(row.candidate.code, row.rank) for row in rows] == [("02", 1), ("9", 1), ("10", 1)]


def test_public_board_shape_with_counts() -> None:
    board = public_board(view(), Tallies(1_700_000_000_123, 1_700_000_000_123, {1: 3, 2: 5}))
    assert board == {
        "contest": "miss-cameroun", "version": 1_700_000_000_123, "updated_at": "2023-11-14T22:13:20.123Z",
        "sealed": False, "total_votes": 8,
        "candidates": [
            {"code": "02", "name": "Name 2", "votes": 5, "rank": 1},
            {"code": "01", "name": "Name 1", "votes": 3, "rank": 2},
            {"code": "03", "name": "Name 3", "votes": 0, "rank": 3},
            {"code": "04", "name": "Name 4", "votes": 0, "rank": 3},
            {"code": "05", "name": "Name 5", "votes": 0, "rank": 3},
        ],
        "overlay": {"shown": True, "layout": None},
    }


def test_hidden_counts_keep_ranks_only() -> None:
    board = public_board(view(show_counts=False), Tallies(5, 0, {1: 3, 2: 5}))
    assert board["total_votes"] is None
    assert [(c["code"], c["votes"], c["rank"]) for c in board["candidates"]][:2] == [("02", None, 1), ("01", None, 2)]


def test_votes_of_candidates_not_on_the_board_are_not_counted() -> None:
    board = public_board(view(), Tallies(5, 0, {1: 3, 99: 1000}))
    assert board["total_votes"] == 3


def test_etag_names_the_version_and_whatever_else_the_board_shows() -> None:
    tallies = Tallies(42, 0, {1: 3})
    shown, ranks = render(view(), tallies), render(view(show_counts=False), tallies)
    assert shown.etag.startswith('"42-') and json.loads(shown.body)["version"] == 42
    assert ranks.etag.startswith('"42-') and ranks.etag != shown.etag  # same votes, counts hidden
    assert render(view(), tallies).etag == shown.etag == etag_for(view(), 42)


def test_if_none_match() -> None:
    assert etag_matches('"42"', '"42"')
    assert etag_matches('W/"42"', '"42"')
    assert etag_matches('"41", "42"', '"42"')
    assert etag_matches("*", '"42"')
    assert not etag_matches('"41"', '"42"')
    assert not etag_matches(None, '"42"')
    assert not etag_matches('"42"', '"42-ranks"')


def test_freeze_applies_from_its_moment() -> None:
    now = datetime(2025, 1, 1, 20, tzinfo=UTC)
    assert not is_frozen(None, now)
    assert not is_frozen(now + timedelta(seconds=1), now)
    assert is_frozen(now, now)
    assert is_frozen(now - timedelta(hours=2), now)


def test_last_event_id_parsing_and_resumption() -> None:
    assert parse_last_event_id(None) is None
    assert parse_last_event_id(" 57 ") == 57
    for junk in ("", "abc", "-1", "1.5", "9" * 30, "¹"):  # "¹".isdigit() is True; int() refuses it
        assert parse_last_event_id(junk) is None
    assert needs_first_frame(58, None)
    assert needs_first_frame(58, 57)  # older: the current board at once
    assert not needs_first_frame(58, 58)  # the viewer shows it already: no duplicate
    assert not needs_first_frame(58, 60)  # newer (another process was ahead): wait for the next change
    assert needs_first_frame(0, 58)  # sealed since the viewer's last frame: it must learn so at once


def test_coalescing_delay() -> None:
    assert flush_delay(10.0, None, 0.25) == 0.0  # first change after a quiet spell: at once
    assert flush_delay(10.0, 9.0, 0.25) == 0.0
    assert abs(flush_delay(10.0, 9.9, 0.25) - 0.15) < 1e-9


def test_event_frames() -> None:
    assert sse.event_frame("leaderboard", b'{"a":1}', 57) == b'event: leaderboard\nid: 57\ndata: {"a":1}\n\n'
    assert sse.event_frame("x", "one\ntwo\r\nthree") == b"event: x\ndata: one\ndata: two\ndata: three\n\n"
    assert sse.event_frame("x", "a\u2028b") == "event: x\ndata: a\u2028b\n\n".encode()  # not a line break here
    assert sse.retry_frame(3000) == b"retry: 3000\n\n"
    assert sse.comment_frame("ping") == sse.PING == b": ping\n\n"


def test_channel_names() -> None:
    assert contest_from_channel(b"db3:leaderboard:42:changed") == 42
    assert contest_from_channel("leaderboard:42:changed") is None
    assert contest_from_channel("db3:leaderboard:x:changed") is None
    assert contest_from_channel("db3:leaderboard:²:changed") is None
    assert contest_from_channel("db²:leaderboard:42:changed") is None
    assert contest_from_channel("db3:other:42:changed") is None


def test_boards_of_two_redis_databases_on_one_server_are_not_heard_across() -> None:
    """PUBLISH reaches subscribers of every database: contest 42 of one deployment is not another's contest 42."""
    one, other = Redis.from_url("redis://127.0.0.1:6379/3"), Redis.from_url("redis://127.0.0.1:6379/4")
    assert fnmatch.fnmatchcase(channel_name(one, 42), channel_pattern(one))
    assert not fnmatch.fnmatchcase(channel_name(other, 42), channel_pattern(one))
    assert contest_from_channel(channel_name(other, 42)) == 42


def test_streams_are_counted_per_client_address() -> None:
    proxy = (ipaddress.ip_network("10.0.0.0/8"),)
    assert address_key("41.202.219.73", None, proxy) == "41.202.219.73"
    assert address_key("41.202.219.73", "154.72.160.5", proxy) == "41.202.219.73"  # a public peer cannot claim another
    assert address_key("10.0.0.2", "154.72.160.5, 102.244.1.8", proxy) == "102.244.1.8"  # our proxy's last hop
    assert address_key("10.0.0.2", "garbage", proxy) == "10.0.0.2"
    assert address_key("192.168.1.9", "102.244.1.8", proxy) == "192.168.1.9"  # private, but not our proxy
    assert address_key("2001:db8::1", None, proxy) == address_key("2001:db8::2", None, proxy) == "2001:db8::/64"
    assert address_key(None, None, proxy) == "unknown"


def test_a_new_viewer_of_a_board_just_sealed_gets_the_sealed_board_not_the_last_counts() -> None:
    counts = Frame(42, b"data: counts", etag='"counts-42"')
    assert reuse_newest(counts, Rendered(41, '"counts-41"', b"{}"))  # a read from before vote 42: the newer frame
    assert reuse_newest(counts, Rendered(42, '"counts-42"', b"{}"))  # the same board: shared
    assert not reuse_newest(counts, Rendered(0, '"sealed"', b"{}"))  # sealed since: its own (countless) read
    assert not reuse_newest(counts, Rendered(43, '"counts-43"', b"{}"))
