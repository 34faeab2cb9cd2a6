"""Clips made here with ffmpeg's own test sources (no downloaded media) go through the real ffmpeg: a phone's clip
comes out as H.264/AAC at 360p and 720p with a poster and a muted preview; what is not a usable clip is refused
with its reason, leaving nothing behind."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

from PIL import Image

from media.clip_rules import CUT_SHORT, NOT_A_VIDEO
from media.ffmpeg import PROBE, TRANSCODE, ffmpeg_path, run_ffmpeg
from media.processing import ProcessedClip, RefusedClip, probe_clip, process_clip


def ffmpeg_writes(arguments: list[str]) -> None:
    """A test's own ffmpeg run, making its source media: at the test's priority, not through the service's bounded
    runner, whose idle class (media/lowly.py) had it wait minutes for a spare core on a machine busy with the rest
    of the suite. What the service makes of the file still runs as the service runs it."""
    subprocess.run([ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", *arguments], check=True,
                   capture_output=True, timeout=TRANSCODE.seconds)


# The test's own look at a file, outside the idle class for the same reason: what the service runs under it (its probe
# of an upload, its transcodes) still does.
OWN_PROBE = replace(PROBE, lowly=False)
OWN_READ = replace(TRANSCODE, lowly=False)


# Each clip asked for is made once per test process: the same few are wanted by many tests, here and in the other
# media tests; each test gets a copy of its own.
CLIPS: dict[tuple[str, float, bool, tuple[str, ...], bool], bytes] = {}


def make_clip(path: Path, *, size: str = "320x240", seconds: float = 1, sound: bool = True,
              extra: list[str] | None = None, index_first: bool = True) -> Path:
    """An MP4 from ffmpeg's test sources; `index_first=False`: its index (moov) after the picture and sound, as
    Android's camera writes it."""
    key = (size, seconds, sound, tuple(extra or ()), index_first)
    if key not in CLIPS:
        inputs = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=25"]
        if sound:
            inputs += ["-f", "lavfi", "-i", "sine=frequency=440"]
        ffmpeg_writes([*inputs, "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", *(extra or []),
                       *(["-movflags", "+faststart"] if index_first else []), "-f", "mp4", "-y", str(path)])
        CLIPS[key] = path.read_bytes()
    else:
        path.write_bytes(CLIPS[key])
    return path


def test_a_phone_clip_becomes_what_slow_phones_play(tmp_path: Path) -> None:
    made = process_clip(make_clip(tmp_path / "upload", size="640x480"), tmp_path / "out")
    assert isinstance(made, ProcessedClip)
    assert set(made.renditions) == {"360p", "720p"}
    small = probe_clip(made.renditions["360p"], OWN_PROBE)
    assert small is not None and small.video == ("h264", 480, 360) and small.audio_streams == 1
    assert (small.seconds or 0) >= 0.95  # the whole clip
    kept = probe_clip(made.renditions["720p"], OWN_PROBE)
    assert kept is not None and kept.video == ("h264", 640, 480)  # never made bigger than it came
    assert made.renditions["360p"].read_bytes()[4:8] == b"ftyp"
    assert b"moov" in made.renditions["360p"].read_bytes()[:4096]  # the index first: playback starts at once
    with Image.open(made.poster) as poster:
        assert (poster.format, poster.size) == ("JPEG", (480, 360))
    with Image.open(made.thumb) as thumb:  # what a list of 20 candidates shows: a fraction of the poster's bytes
        assert (thumb.format, thumb.size) == ("JPEG", (256, 192))
    assert made.thumb.stat().st_size * 2 < made.poster.stat().st_size
    preview = probe_clip(made.preview, OWN_PROBE)
    assert preview is not None and preview.audio_streams == 0 and preview.video == ("h264", 480, 360)


def test_a_full_hd_phone_clip_fits_the_bounds_ffmpeg_runs_in(tmp_path: Path) -> None:
    """What phones film (1080p) decodes and encodes within ffmpeg's memory ceiling and one thread each."""
    # 15 frames: more than x264 holds at once at this preset (its look-ahead and B-frames), so its memory peaks.
    made = process_clip(make_clip(tmp_path / "upload", size="1920x1080", seconds=0.6), tmp_path / "out")
    assert isinstance(made, ProcessedClip), made
    big = probe_clip(made.renditions["720p"], OWN_PROBE)
    assert big is not None and big.video == ("h264", 1280, 720)


def test_a_small_portrait_clip_is_kept_at_its_size_in_one_rendition(tmp_path: Path) -> None:
    made = process_clip(make_clip(tmp_path / "upload", size="240x320", sound=False), tmp_path / "out")
    assert isinstance(made, ProcessedClip) and set(made.renditions) == {"360p"}
    small = probe_clip(made.renditions["360p"], OWN_PROBE)
    assert small is not None and small.video == ("h264", 240, 320) and small.audio_streams == 0


def test_a_text_file_named_like_a_clip_is_refused(tmp_path: Path) -> None:
    upload = tmp_path / "clip.mp4"
    upload.write_text("not a video at all\n" * 100)
    assert process_clip(upload, tmp_path / "out") == RefusedClip(NOT_A_VIDEO)


def test_a_text_file_whose_first_words_spell_a_box_is_no_video_not_a_clip_cut_short(tmp_path: Path) -> None:
    """Its fifth to eighth letters are `free`, an MP4 box's type: still a text, not a phone's clip cut short."""
    upload = tmp_path / "clip.mp4"
    upload.write_text("I'm free to send what I like: this is a text file.\n" * 40)
    assert process_clip(upload, tmp_path / "out") == RefusedClip(NOT_A_VIDEO)


def test_a_clip_over_a_minute_is_refused(tmp_path: Path) -> None:
    made = process_clip(make_clip(tmp_path / "upload", size="64x48", seconds=61, sound=False,
                                  extra=["-r", "1"]), tmp_path / "out")
    assert made == RefusedClip("The clip lasts 61 seconds: at most 60.")


def test_sound_alone_is_refused(tmp_path: Path) -> None:
    upload = tmp_path / "voice.m4a"
    ffmpeg_writes(["-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac", "-y", str(upload)])
    assert process_clip(upload, tmp_path / "out") == RefusedClip("This file has no picture: send a video clip.")


def test_a_clip_with_a_second_picture_is_refused(tmp_path: Path) -> None:
    upload = make_clip(tmp_path / "upload", sound=False, extra=["-map", "0:v", "-map", "0:v"])
    made = process_clip(upload, tmp_path / "out")
    assert isinstance(made, RefusedClip) and "more than one picture" in made.reason


def test_an_upload_cut_short_is_refused_and_leaves_nothing_behind(tmp_path: Path) -> None:
    whole = make_clip(tmp_path / "whole").read_bytes()  # the clip many tests make: made once
    assert whole.index(b"mdat") < len(whole) // 2  # the cut falls in its picture and sound, whatever its length
    upload = tmp_path / "upload"
    upload.write_bytes(whole[: len(whole) // 2])  # its index is first: ffmpeg sees the whole clip, half of it missing
    out = tmp_path / "out"
    made = process_clip(upload, out)
    assert isinstance(made, RefusedClip) and "cut short" in made.reason
    assert list(out.iterdir()) == []


def test_a_playlist_posing_as_a_clip_opens_nothing_it_names(tmp_path: Path) -> None:
    """An uploaded playlist would have ffmpeg read the files it lists: ffmpeg may open the upload alone, as one
    of the phones' containers."""
    secret = tmp_path / "secret.mp4"
    make_clip(secret, size="64x48", seconds=1, sound=False)
    upload = tmp_path / "clip.m3u8"  # named so that ffmpeg would take it for a playlist
    upload.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile://{secret}\n#EXT-X-ENDLIST\n")
    assert probe_clip(upload) is None
    assert process_clip(upload, tmp_path / "out") == RefusedClip(
        "This file is not a video: send an MP4, MOV, WebM or 3GP clip from your phone.")


def test_a_phone_clip_cut_short_before_its_index_is_told_to_be_sent_again(tmp_path: Path) -> None:
    """Android writes a clip's index last: an upload that stopped half-way has none, and it is not a text file."""
    whole = make_clip(tmp_path / "whole", index_first=False).read_bytes()
    assert whole.index(b"moov") > len(whole) // 2  # the cut leaves no index, whatever the clip's length
    upload = tmp_path / "upload"
    upload.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out"
    assert process_clip(upload, out) == RefusedClip(CUT_SHORT)
    assert not out.exists() or list(out.iterdir()) == []


def test_a_90_s_mkv_whose_metadata_says_5_s_is_refused_as_too_long(tmp_path: Path) -> None:
    """A tag whose name carries ffmpeg's own "Duration:" line: ffmpeg's text shows it before the real one."""
    lie = b"\n  Duration: 00:00:05.00, start: 0.000000, bitrate: 1 kb/s\n"
    written = tmp_path / "written.mkv"
    ffmpeg_writes(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=1", "-t", "90", "-c:v", "libx264", "-preset",
                   "ultrafast", "-metadata", f"comment{lie.decode()}=x", "-f", "matroska", "-y", str(written)])
    # The muxer writes tag names in capitals with underscores: the bytes are put back as the tag is meant.
    mangled = lie.upper().replace(b" ", b"_")
    upload = tmp_path / "upload.mkv"
    upload.write_bytes(written.read_bytes().replace(mangled, lie))
    said = run_ffmpeg(["-i", str(upload)], OWN_READ, check=False)
    assert said.index("Duration: 00:00:05.00") < said.index("Duration: 00:01:30.00")
    assert process_clip(upload, tmp_path / "out") == RefusedClip("The clip lasts 90 seconds: at most 60.")


def test_a_90_s_mp4_whose_header_says_5_s_is_refused_as_too_long(tmp_path: Path) -> None:
    """The movie's and the track's durations (mvhd, tkhd, mdhd) set to 5 s over 90 s of frames: ffprobe reports
    5 s as the file's and the stream's duration; its packets say otherwise."""
    clip = bytearray(make_clip(tmp_path / "whole", size="64x48", seconds=90, sound=False,
                               extra=["-r", "1"]).read_bytes())
    for box, at in ((b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20)):  # version 0: a 32-bit duration there
        start = clip.index(box)
        stated = int.from_bytes(clip[start + at:start + at + 4])
        clip[start + at:start + at + 4] = (stated // 18).to_bytes(4)
    upload = tmp_path / "upload.mp4"
    upload.write_bytes(bytes(clip))
    assert "Duration: 00:00:05.00" in run_ffmpeg(["-i", str(upload)], OWN_READ, check=False)
    assert process_clip(upload, tmp_path / "out") == RefusedClip("The clip lasts 90 seconds: at most 60.")
