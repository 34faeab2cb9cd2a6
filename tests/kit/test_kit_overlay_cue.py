"""The overlay's cue as kept in Redis and named on its channel: plain functions, no I/O. Whatever is unreadable is the
default, shown in each overlay's own layout: a stray key never blanks a show's graphics."""

from __future__ import annotations

from gateway.kit.overlay_cue import UNCUED, OverlayCue, contest_from_channel, parse_cue


def test_a_stored_cue_reads_back_and_anything_else_is_the_default() -> None:
    assert parse_cue('{"shown": false, "layout": "corner"}') == OverlayCue(False, "corner")
    assert parse_cue(b'{"shown": true, "layout": null}') == UNCUED
    assert parse_cue('{"shown": false, "layout": "giant"}') == OverlayCue(False, None)  # no such layout
    for junk in (None, "", "not json", "[1, 2]", '{"shown": "no"}'):
        assert parse_cue(junk) == UNCUED, junk


def test_the_cue_channel_names_its_contest_and_nothing_else_passes_for_one() -> None:
    assert contest_from_channel(b"db3:overlay:42:cued") == 42
    for other in ("db3:leaderboard:42:changed", "db3:overlay:x:cued", "overlay:42:cued", "db3:overlay:42:cue"):
        assert contest_from_channel(other) is None, other
