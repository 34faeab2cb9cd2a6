"""What a candidate's clip must be, read from ffmpeg's own description of the file (never from its name or the
browser's word): pure functions, so each refusal is tested without a file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The entry rules: at most a minute and 50 MB, one picture and at most one sound track.
MAX_SECONDS = 60.0
MAX_BYTES = 50 * 1024 * 1024
# A picture no phone films: a header claiming more is a decoder's memory, not a clip (a "zip bomb").
MAX_PIXELS = 4096 * 2304
# Containers a phone or a browser records in (ffmpeg's demuxer names, as its header line lists them). No AVI, no
# playlist: their demuxers can be made to open other files or URLs (media.ffmpeg.INPUT_GUARDS keeps ffmpeg to these).
CONTAINERS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm"})


@dataclass(frozen=True)
class ClipFacts:
    """What ffmpeg found in a file (`parse_header`)."""

    containers: frozenset[str]  # the demuxer's names for the container ("mov", "mp4", …)
    seconds: float | None  # None: ffmpeg could not tell ("N/A"), as for a truncated upload
    video: tuple[str, int, int] | None  # codec, width, height of the first picture stream
    video_streams: int = 0
    audio_streams: int = 0
    other_streams: tuple[str, ...] = field(default_factory=tuple)  # subtitles, data, attachments


def refusal(facts: ClipFacts | None, size: int) -> str | None:
    """Why the clip cannot enter, in words the candidate reads (None: it may)."""
    if size > MAX_BYTES:
        return f"The clip is {size / 1024 / 1024:.0f} MB: at most {MAX_BYTES // 1024 // 1024} MB."
    if facts is None or not facts.containers & CONTAINERS:
        return "This file is not a video: send an MP4, MOV, WebM or 3GP clip from your phone."
    if facts.video is None:
        return "This file has no picture: send a video clip."
    if facts.video_streams > 1 or facts.audio_streams > 1 or facts.other_streams:
        return "The clip holds more than one picture and one sound track: send the clip as your phone made it."
    if facts.seconds is None:
        return "The clip seems cut short (its length cannot be read): send it again."
    if facts.seconds > MAX_SECONDS:
        return f"The clip lasts {facts.seconds:.0f} seconds: at most {MAX_SECONDS:.0f}."
    _, width, height = facts.video
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        return "The clip's picture size cannot be right: send the clip as your phone made it."
    return None


INPUT = re.compile(r"^Input #0, ([^ ]+), from ", re.MULTILINE)
DURATION = re.compile(r"^\s+Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N/A)", re.MULTILINE)
STREAM = re.compile(r"^\s+Stream #0:\d+\S*: (Video|Audio|Subtitle|Data|Attachment): (.*)$", re.MULTILINE)
SIZE = re.compile(r"(?:^|[ ,])(\d{1,5})x(\d{1,5})(?:[ ,]|$)")


def parse_header(stderr: str) -> ClipFacts | None:
    """The facts of ffmpeg's description of its input (`ffmpeg -i file`); None when it found no container."""
    found = INPUT.search(stderr)
    if found is None:
        return None
    duration = DURATION.search(stderr)
    seconds = None
    if duration and duration.group(1) is not None:
        seconds = int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3))
    video, videos, audios, others = None, 0, 0, []
    for kind, description in STREAM.findall(stderr):
        if kind == "Video":
            videos += 1
            size = SIZE.search(description)
            if video is None and size:
                video = (description.split(" ", 1)[0].rstrip(","), int(size.group(1)), int(size.group(2)))
        elif kind == "Audio":
            audios += 1
        else:
            others.append(kind.lower())
    return ClipFacts(frozenset(found.group(1).split(",")), seconds, video, videos, audios, tuple(others))
