"""What a clip must be to enter, read from ffmpeg's description of a file (no file needed here)."""

from __future__ import annotations

import pytest

from media.clip_rules import MAX_BYTES, ClipFacts, parse_header, refusal

PHONE_CLIP = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'upload':
  Metadata:
    major_brand     : isom
  Duration: 00:00:42.37, start: 0.000000, bitrate: 4321 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1080x1920 [SAR 1:1 DAR 9:16], 4180 kb/s, 30 fps, 30 tbr, 90k tbn (default)
      displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 128 kb/s (default)
At least one output file must be specified
"""  # noqa: E501


def test_a_phone_clip_is_read_and_may_enter() -> None:
    facts = parse_header(PHONE_CLIP)
    assert facts == ClipFacts(frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}), 42.37, ("h264", 1080, 1920),
                              video_streams=1, audio_streams=1)
    assert refusal(facts, 20 * 1024 * 1024) is None


def test_what_ffmpeg_cannot_open_is_no_video() -> None:
    text = "[in#0 @ 0x5] Error opening input: Invalid data found when processing input\n"
    assert parse_header(text) is None
    assert refusal(None, 1000) == "This file is not a video: send an MP4, MOV, WebM or 3GP clip from your phone."


@pytest.mark.parametrize(("change", "reason"), [
    ({"seconds": 61.0}, "The clip lasts 61 seconds: at most 60."),
    ({"seconds": None}, "The clip seems cut short (its length cannot be read): send it again."),
    ({"video": None, "video_streams": 0}, "This file has no picture: send a video clip."),
    ({"other_streams": ("subtitle",)}, "more than one picture and one sound track"),
    ({"video_streams": 2}, "more than one picture and one sound track"),
    ({"audio_streams": 2}, "more than one picture and one sound track"),
    ({"video": ("h264", 30000, 30000)}, "The clip's picture size cannot be right"),
    ({"containers": frozenset({"image2"})}, "This file is not a video"),
])
def test_each_rule_refuses_with_a_reason_the_candidate_reads(change: dict[str, object], reason: str) -> None:
    facts = parse_header(PHONE_CLIP)
    assert facts is not None
    refused = refusal(ClipFacts(**{**facts.__dict__, **change}), 1000)  # type: ignore[arg-type]
    assert refused is not None and reason in refused


def test_a_file_over_50_mb_is_refused_before_anything_reads_it() -> None:
    assert refusal(None, MAX_BYTES + 1) == "The clip is 50 MB: at most 50 MB."


def test_a_length_ffmpeg_could_not_read_is_not_taken_for_a_short_clip() -> None:
    facts = parse_header(PHONE_CLIP.replace("Duration: 00:00:42.37", "Duration: N/A"))
    assert facts is not None and facts.seconds is None
