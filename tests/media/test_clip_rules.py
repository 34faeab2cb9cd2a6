"""What a clip must be to enter, read from ffprobe's JSON description of a file (no file needed here)."""

from __future__ import annotations

import io
import json

import pytest

from media.clip_rules import (
    CUT_SHORT,
    MAX_BYTES,
    MAX_PACKETS,
    NOT_A_VIDEO,
    ClipFacts,
    Unfinished,
    begun_as,
    parse_probe,
    refusal,
)


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
    facts = parse_probe(json.dumps(phone_clip()), "mov")
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
    facts = parse_probe(json.dumps(probe), "mov")
    assert isinstance(facts, ClipFacts) and facts.seconds == pytest.approx(90, abs=0.05)
    assert refusal(facts, 1000) == "The clip lasts 90 seconds: at most 60."


def test_what_ffprobe_cannot_open_is_no_video_unless_it_begins_as_one() -> None:
    failed = json.dumps({"error": {"code": -1094995529, "string": "Invalid data found when processing input"}})
    assert parse_probe(failed, None) is None
    assert refusal(None, 1000) == NOT_A_VIDEO
    assert parse_probe(failed, "mov") == Unfinished("mov")  # an MP4 whose index (at its end) never came
    assert parse_probe(failed, "matroska") == Unfinished("matroska")
    assert refusal(Unfinished("mov"), 1000) == CUT_SHORT
    assert parse_probe("", "mov") is None  # ffprobe said nothing (killed at its memory ceiling)


def box(kind: bytes, body: bytes = b"", *, size: int | None = None) -> bytes:
    return (size if size is not None else 8 + len(body)).to_bytes(4, "big") + kind + body


def test_a_file_begins_as_a_phones_container_only_if_its_boxes_hold_from_its_first_byte() -> None:
    cut = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2") + box(b"free") + box(b"mdat", b"\x00" * 100, size=90_000)
    assert begun_as(io.BytesIO(cut)) == "mov"  # Android's clip cut inside its picture and sound
    assert begun_as(io.BytesIO(cut[:30])) == "mov"  # or inside a box's header
    large = box(b"ftyp", b"isom") + (1).to_bytes(4, "big") + b"mdat" + (90_000).to_bytes(8, "big") + b"\x00" * 50
    assert begun_as(io.BytesIO(large)) == "mov"  # a 64-bit size
    for text in (b"I'm free to say this is no video at all.\n" * 20, b"abcdftypisom, then words" * 20,
                 b"not a video at all\n", b""):
        assert begun_as(io.BytesIO(text)) is None  # its first bytes make no box a clip's size
    assert begun_as(io.BytesIO(box(b"ftyp", b"isom") + b"\x00\x00\x00\x10 is no box, only words")) is None
    assert begun_as(io.BytesIO(box(b"ftyp", b"isom") + box(b"mdat", size=4))) is None
    webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm\x42\x87\x81\x04"
    assert begun_as(io.BytesIO(webm)) == "matroska"
    assert begun_as(io.BytesIO(b"\x1a\x45\xdf\xa3 then text")) is None


def test_a_long_clip_cut_below_50_mb_is_told_cut_short_though_its_mdat_declares_more() -> None:
    """A phone's clip whose picture and sound (`mdat`) came to 60 MB, cut off at 100 bytes of them: only the
    file's own size is bounded, so its last box may say it goes past MAX_BYTES."""
    head = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2") + box(b"free")
    declared = MAX_BYTES + 10 * 1024 * 1024
    for mdat in (box(b"mdat", b"\x00" * 100, size=declared),
                 (1).to_bytes(4, "big") + b"mdat" + declared.to_bytes(8, "big") + b"\x00" * 100):  # a 64-bit size
        begun = begun_as(io.BytesIO(head + mdat))
        assert begun == "mov"
        failed = json.dumps({"error": {"code": -1094995529, "string": "Invalid data found when processing input"}})
        assert refusal(parse_probe(failed, begun), len(head + mdat)) == CUT_SHORT
    # Only picture and sound come to that much: any other box saying so is no clip's (nor a text's letters).
    assert begun_as(io.BytesIO(head + box(b"moov", b"\x00" * 100, size=declared))) is None
    assert begun_as(io.BytesIO(box(b"ftyp", b"isom", size=declared))) is None
    assert begun_as(io.BytesIO(b"Somemdat, then words" * 20)) is None  # a first box is never past it


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
    facts = parse_probe(json.dumps(phone_clip(10)), "mov")
    assert isinstance(facts, ClipFacts)
    refused = refusal(ClipFacts(**{**facts.__dict__, **change}), 1000)  # type: ignore[arg-type]
    assert refused is not None and reason in refused


def test_a_file_over_50_mb_is_refused_before_anything_reads_it() -> None:
    assert refusal(None, MAX_BYTES + 1) == "The clip is 50 MB: at most 50 MB."


def test_a_clip_with_no_timed_packet_has_no_length() -> None:
    probe = phone_clip(10)
    probe["packets"] = []
    facts = parse_probe(json.dumps(probe), "mov")
    assert isinstance(facts, ClipFacts) and facts.seconds is None


def test_a_file_past_the_packets_listed_is_not_measured_on_a_part() -> None:
    probe = phone_clip(10)
    probe["packets"] = [{"stream_index": 0, "pts_time": "0.000000"}] * MAX_PACKETS
    facts = parse_probe(json.dumps(probe), "mov")
    assert isinstance(facts, ClipFacts) and facts.packets_past_limit
    assert refusal(facts, 1000) is not None
