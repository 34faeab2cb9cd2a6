"""What a candidate's clip must be, read from ffprobe's JSON description of the file (never from its name, the
browser's word or a text the file can write into): pure functions, so each refusal is tested without a file.

The length is measured on the packets ffprobe demuxed, from their own timestamps: the first one's start to the
last one's end. Nothing the file merely states about itself is read as its length: not a metadata tag (any
text), not the container's header (an MP4's `mvhd`/`mdhd`, a Matroska segment's Duration, which a file can set to
5 s over 90 s of frames, and which ffprobe reports as `format.duration` and a stream's `duration`), and not an
estimate from the bitrate (ffmpeg's fallback when a container states none)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO

from pydantic import BaseModel, ValidationError

# The entry rules: at most a minute and 50 MB, one picture and at most one sound track.
MAX_SECONDS = 60.0
MAX_BYTES = 50 * 1024 * 1024
# A picture no phone films: a header claiming more is a decoder's memory, not a clip (a "zip bomb").
MAX_PIXELS = 4096 * 2304
# Containers a phone or a browser records in (ffmpeg's demuxer names, as ffprobe's format_name lists them). No
# AVI, no playlist: their demuxers can be made to open other files or URLs (media.ffmpeg.INPUT_GUARDS keeps
# ffmpeg and ffprobe to these).
CONTAINERS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm"})
# The packets ffprobe lists at most (its -read_intervals): a minute of a phone's slow motion (240 frames a
# second) and its sound is some 17,000; a file with more is no phone's minute, and its list stays a few MB.
MAX_PACKETS = 25_000

NOT_A_VIDEO = "This file is not a video: send an MP4, MOV, WebM or 3GP clip from your phone."
CUT_SHORT = "The clip was cut short (its end is missing): send it again."


@dataclass(frozen=True)
class ClipFacts:
    """What ffprobe found in a file (`parse_probe`)."""

    containers: frozenset[str]  # the demuxer's names for the container ("mov", "mp4", …)
    seconds: float | None  # measured on the packets; None: none had a time, as for a truncated upload
    video: tuple[str, int, int] | None  # codec, width, height of the first picture stream
    video_streams: int = 0
    audio_streams: int = 0
    other_streams: tuple[str, ...] = field(default_factory=tuple)  # subtitles, data, attachments
    packets_past_limit: bool = False  # ffprobe stopped at MAX_PACKETS: the length measured is a part's

    def noted(self) -> dict[str, object]:
        """The facts a ready clip keeps (its upload's `facts`), whoever prepared it: ffmpeg here or Cloudinary."""
        video = self.video
        return {"seconds": self.seconds, "width": video[1] if video else None, "height": video[2] if video else None,
                "codec": video[0] if video else None, "audio_streams": self.audio_streams}


@dataclass(frozen=True)
class Unfinished:
    """A file that begins as a phone's container but that ffprobe cannot open: its end never arrived (an MP4's
    index, which Android writes after the picture and sound, is at its end)."""

    container: str


def refusal(facts: ClipFacts | Unfinished | None, size: int) -> str | None:
    """Why the clip cannot enter, in words the candidate reads (None: it may)."""
    if size > MAX_BYTES:
        return f"The clip is {size / 1024 / 1024:.0f} MB: at most {MAX_BYTES // 1024 // 1024} MB."
    if isinstance(facts, Unfinished):
        return CUT_SHORT
    if facts is None or not facts.containers & CONTAINERS:
        return NOT_A_VIDEO
    if facts.video is None:
        return "This file has no picture: send a video clip."
    if facts.video_streams > 1 or facts.audio_streams > 1 or facts.other_streams:
        return "The clip holds more than one picture and one sound track: send the clip as your phone made it."
    if facts.packets_past_limit:
        return "The clip holds more frames than a phone films in a minute: send the clip as your phone made it."
    if facts.seconds is None:
        return "The clip seems cut short (its length cannot be read): send it again."
    if facts.seconds > MAX_SECONDS:
        return f"The clip lasts {facts.seconds:.0f} seconds: at most {MAX_SECONDS:.0f}."
    _, width, height = facts.video
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        return "The clip's picture size cannot be right: send the clip as your phone made it."
    return None


# ffprobe's JSON (`-of json -show_error -show_format -show_streams -show_entries packet=…`), the fields read.
class Stream(BaseModel):
    index: int
    codec_type: str = ""
    codec_name: str = ""
    width: int = 0
    height: int = 0


class Packet(BaseModel):
    stream_index: int
    pts_time: float | None = None
    dts_time: float | None = None
    duration_time: float | None = None


class Format(BaseModel):
    format_name: str


class Probe(BaseModel):
    format: Format | None = None  # absent when ffprobe could not open the file
    streams: list[Stream] = []
    packets: list[Packet] = []
    error: dict[str, object] | None = None


# What a phone's ISO media file (MP4, MOV, 3GP) may begin with: `ftyp` for every phone, another box for an old
# QuickTime file. Box types are four letters, digits or spaces; a text's bytes never make a chain of boxes.
ISO_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide"})
BOX_TYPE = re.compile(rb"[A-Za-z0-9 ]{4}")
MAX_BOXES = 10_000  # a fragmented MP4's many fragments: past this many boxes that all held, it is one
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def begun_as(file: BinaryIO) -> str | None:
    """The phone's container a file truly begins as, whether or not ffprobe can open it: "mov" for a chain of
    ISO media boxes (`iso_boxes_hold`), "matroska" for an EBML header naming Matroska or WebM, None for anything
    else (a text file whose fifth to eighth letters happen to spell `free` among them)."""
    head = file.read(64)
    if head.startswith(EBML_MAGIC):
        return "matroska" if b"\x42\x82" in head and (b"webm" in head or b"matroska" in head) else None
    return "mov" if iso_boxes_hold(file) else None


def iso_boxes_hold(file: BinaryIO) -> bool:
    """Whether the file reads as ISO media boxes from its first byte: each box's size and type where the one
    before ends, the first of a kind a phone's file begins with, none reaching past a clip's MAX_BYTES (four
    letters of a text read as a size are over 500 MB). Only the last may run past the file's end (or stop inside
    its header): that is what was cut. Past the first, it may be the picture and sound (`mdat`) of a long clip cut
    below MAX_BYTES, saying how far they went however far that is: only the file's own size is bounded."""
    size = file.seek(0, os.SEEK_END)
    offset = 0
    for count in range(MAX_BOXES):
        file.seek(offset)
        header = file.read(16)
        if len(header) < 8:
            return count > 0
        length, kind = int.from_bytes(header[:4], "big"), header[4:8]
        if not BOX_TYPE.fullmatch(kind) or (count == 0 and kind not in ISO_FIRST_BOXES):
            return False
        if length == 1:  # a 64-bit size follows the type
            if len(header) < 16:
                return count > 0
            length = int.from_bytes(header[8:16], "big")
        elif length == 0:  # the box runs to the file's end
            length = size - offset
        cut_media = count > 0 and kind == b"mdat" and offset + length >= size  # its last box, picture and sound
        if length < 8 or (offset + length > MAX_BYTES and not cut_media):
            return False
        offset += length
        if offset >= size:
            return True
    return True


def parse_probe(output: str, begun: str | None) -> ClipFacts | Unfinished | None:
    """The facts of ffprobe's JSON on a file that truly begins as the container `begun` (`begun_as`): Unfinished
    when ffprobe could not open what begins as a phone's container, None when it is no container ffprobe may
    read."""
    try:
        probe = Probe.model_validate_json(output)
    except ValidationError:  # no JSON at all: ffprobe was killed (its memory ceiling)
        return None
    if probe.format is None:
        return Unfinished(begun) if begun is not None and probe.error is not None else None
    video, videos, audios, others = None, 0, 0, []
    timed: set[int] = set()
    for stream in probe.streams:
        if stream.codec_type == "video":
            videos += 1
            video = video or (stream.codec_name, stream.width, stream.height)
            timed.add(stream.index)
        elif stream.codec_type == "audio":
            audios += 1
            timed.add(stream.index)
        else:
            others.append(stream.codec_type or "unknown")
    return ClipFacts(frozenset(probe.format.format_name.split(",")), measured_seconds(probe.packets, timed), video,
                     videos, audios, tuple(others), packets_past_limit=len(probe.packets) >= MAX_PACKETS)


def measured_seconds(packets: list[Packet], streams: set[int]) -> float | None:
    """From the first packet's start to the last one's end, over the picture's and the sound's packets."""
    starts, ends = [], []
    for packet in packets:
        at = packet.pts_time if packet.pts_time is not None else packet.dts_time
        if packet.stream_index in streams and at is not None:
            starts.append(at)
            ends.append(at + (packet.duration_time or 0.0))
    return round(max(ends) - min(starts), 3) if starts else None
