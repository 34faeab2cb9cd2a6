"""What a clip must be to enter, read from ffprobe's JSON description of a file (no file needed here)."""

from __future__ import annotations

import json

import pytest

from media.clip_rules import (
    CUT_SHORT,
    MAX_BYTES,
    MAX_PACKETS,
    NOT_A_VIDEO,
    ClipFacts,
    Unfinished,
    parse_probe,
    refusal,
)

MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00"


def phone_clip(seconds: float = 42.4, *, stated: float | None = None) -> dict[str, object]:
    """ffprobe's JSON for a phone's portrait clip: 30 frames and some 47 sound packets a second."""
    stated_text = f"{stated if stated is not None else seconds:.6f}"
    frames = [{"stream_index": 0, "pts_time": f"{n / 30:.6f}", "dts_time": f"{n / 30:.6f}",
               "duration_time": "0.033333"} for n in range(int(seconds * 30))]
    sound = [{"stream_index": 1, "pts_time": f"{n * 0.021333:.6f}", "duration_time": "0.021333"}
             for n in range(int(seconds / 0.021333))]
    return {
        "packets": frames + sound,
        "streams": [
            {"index": 0, "codec_name": "h264", "codec_type": "video", "width": 1080, "height": 1920,
             "duration": stated_text, "tags": {"DURATION": stated_text}},
            {"index": 1, "codec_name": "aac", "codec_type": "audio", "duration": stated_text},
        ],
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": stated_text, "size": "22000000",
                   "tags": {"major_brand": "isom"}},
    }


def test_a_phone_clip_is_read_and_may_enter() -> None:
    facts = parse_probe(json.dumps(phone_clip()), MP4_HEAD)
    assert isinstance(facts, ClipFacts)
    assert facts == ClipFacts(frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}), facts.seconds,
                              ("h264", 1080, 1920), video_streams=1, audio_streams=1)
    assert facts.seconds == pytest.approx(42.4, abs=0.05)
    assert refusal(facts, 20 * 1024 * 1024) is None


def test_the_length_is_the_packets_never_what_the_file_states() -> None:
    """A 90 s clip whose header, streams and tags all say 5 s lasts 90 s."""
    probe = phone_clip(90, stated=5)
    assert isinstance(probe["format"], dict)
    probe["format"]["tags"] = {"comment\n  Duration: 00:00:05.00, start: 0.000000, bitrate: 1 kb/s\n": "x"}
    facts = parse_probe(json.dumps(probe), MP4_HEAD)
    assert isinstance(facts, ClipFacts) and facts.seconds == pytest.approx(90, abs=0.05)
    assert refusal(facts, 1000) == "The clip lasts 90 seconds: at most 60."


def test_what_ffprobe_cannot_open_is_no_video_unless_it_begins_as_one() -> None:
    failed = json.dumps({"error": {"code": -1094995529, "string": "Invalid data found when processing input"}})
    assert parse_probe(failed, b"not a video at all\n") is None
    assert refusal(None, 1000) == NOT_A_VIDEO
    assert parse_probe(failed, MP4_HEAD) == Unfinished("mov")  # an MP4 whose index (at its end) never came
    assert parse_probe(failed, b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81") == Unfinished("matroska")
    assert refusal(Unfinished("mov"), 1000) == CUT_SHORT
    assert parse_probe("", MP4_HEAD) is None  # ffprobe said nothing (killed at its memory ceiling)


@pytest.mark.parametrize(("change", "reason"), [
    ({"seconds": 61.0}, "The clip lasts 61 seconds: at most 60."),
    ({"seconds": None}, "The clip seems cut short (its length cannot be read): send it again."),
    ({"video": None, "video_streams": 0}, "This file has no picture: send a video clip."),
    ({"other_streams": ("subtitle",)}, "more than one picture and one sound track"),
    ({"video_streams": 2}, "more than one picture and one sound track"),
    ({"audio_streams": 2}, "more than one picture and one sound track"),
    ({"video": ("h264", 30000, 30000)}, "The clip's picture size cannot be right"),
    ({"containers": frozenset({"image2"})}, "This file is not a video"),
    ({"packets_past_limit": True}, "more frames than a phone films in a minute"),
])
def test_each_rule_refuses_with_a_reason_the_candidate_reads(change: dict[str, object], reason: str) -> None:
    facts = parse_probe(json.dumps(phone_clip(10)), MP4_HEAD)
    assert isinstance(facts, ClipFacts)
    refused = refusal(ClipFacts(**{**facts.__dict__, **change}), 1000)  # type: ignore[arg-type]
    assert refused is not None and reason in refused


def test_a_file_over_50_mb_is_refused_before_anything_reads_it() -> None:
    assert refusal(None, MAX_BYTES + 1) == "The clip is 50 MB: at most 50 MB."


def test_a_clip_with_no_timed_packet_has_no_length() -> None:
    probe = phone_clip(10)
    probe["packets"] = []
    facts = parse_probe(json.dumps(probe), MP4_HEAD)
    assert isinstance(facts, ClipFacts) and facts.seconds is None


def test_a_file_past_the_packets_listed_is_not_measured_on_a_part() -> None:
    probe = phone_clip(10)
    probe["packets"] = [{"stream_index": 0, "pts_time": "0.000000"}] * MAX_PACKETS
    facts = parse_probe(json.dumps(probe), MP4_HEAD)
    assert isinstance(facts, ClipFacts) and facts.packets_past_limit
    assert refusal(facts, 1000) is not None
