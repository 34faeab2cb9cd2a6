"""What becomes of a clip once uploaded: its probe, then what phones on slow networks play (H.264/AAC MP4 with
its index first, `+faststart`, at 360p and, from a bigger source, 720p), a poster and a short muted preview.
The renditions and the preview come from one bounded ffmpeg run (media/ffmpeg.py), the poster from another; a
clip that fails either is refused with a reason."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from gateway.core.media_storage import PICTURE_SIZES, PictureSize
from media.clip_rules import (
    MAX_BYTES,
    MAX_PACKETS,
    MAX_SECONDS,
    ClipFacts,
    Unfinished,
    begun_as,
    parse_probe,
    refusal,
)
from media.ffmpeg import (
    INPUT_GUARDS,
    PROBE,
    TRANSCODE,
    Bounds,
    FfmpegFailed,
    FfmpegTimedOut,
    run_ffmpeg,
    run_ffprobe,
)
from media.photos import sized

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendition:
    """One way to play the clip: the shorter side of its picture at most `height`, within `video_kbps`."""

    name: str
    height: int
    video_kbps: int
    audio_kbps: int


# 360p is what a phone gets by default: 600 kbit/s in all, a minute is 4.5 MB.
RENDITIONS = (Rendition("360p", 360, 536, 64), Rendition("720p", 720, 1800, 96))
PREVIEW_SECONDS = 6
UNREADABLE = "The clip could not be read to its end: it may have been cut short. Send it again."


@dataclass(frozen=True)
class ProcessedClip:
    facts: ClipFacts
    renditions: dict[str, Path]  # by name ("360p", "720p"): the 720p only from a source bigger than 360p
    poster: Path  # a JPEG of the picture at 360p
    preview: Path  # its first seconds, muted, at 360p
    thumb: Path  # the poster small, for lists (a contest page of 20 candidates on a slow link)
    # The poster at the sizes pages show it (PICTURE_SIZES: tiles and a photo's width), named as
    # PictureSize.name_of names them; empty where a caller made none.
    poster_sizes: dict[PictureSize, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class RefusedClip:
    reason: str  # for the candidate


# ffprobe's description of its input, as JSON: its container and streams, and the time of every packet it
# demuxes (up to MAX_PACKETS), which is what the clip's length is measured on (media.clip_rules).
PROBE_ARGUMENTS = ("-v", "error", "-threads", "1", "-of", "json", "-show_error", "-show_format", "-show_streams",
                   "-show_entries", "packet=stream_index,pts_time,dts_time,duration_time",
                   "-read_intervals", f"%+#{MAX_PACKETS}")


def ffmpeg_bounds(lowly: bool) -> tuple[Bounds, Bounds]:
    """The probe's and the transcode's bounds: under media.lowly (the CPU the votes leave, a memory ceiling), or, for
    a stand-in of a service that transcodes on machines of its own, their time limits alone."""
    return (PROBE, TRANSCODE) if lowly else (replace(PROBE, lowly=False), replace(TRANSCODE, lowly=False))


def examine_clip(source: Path, limits: Bounds = PROBE) -> ClipFacts | Unfinished | None:
    """What ffprobe finds in the file: Unfinished for a phone's container cut short, None for what is none."""
    with source.open("rb") as file:
        begun = begun_as(file)
    return parse_probe(run_ffprobe([*PROBE_ARGUMENTS, *INPUT_GUARDS, str(source)], limits), begun)


def probe_clip(source: Path, limits: Bounds = PROBE) -> ClipFacts | None:
    """ffprobe's description of the file; None when it is no container ffprobe can open. `limits`: PROBE (the CPU
    the votes leave) for what a stranger sent; a look at what the service itself made may take another."""
    facts = examine_clip(source, limits)
    return facts if isinstance(facts, ClipFacts) else None


def scaled(height: int) -> str:
    """The filter that brings the shorter side down to `height` (never up), both sides even as H.264 needs."""
    return (f"scale=w='if(gte(iw,ih),-2,trunc(min(iw,{height})/2)*2)'"
            f":h='if(gte(iw,ih),trunc(min(ih,{height})/2)*2,-2)'")


def video_output(rendition: Rendition) -> list[str]:
    return ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
            "-b:v", f"{rendition.video_kbps}k", "-maxrate", f"{rendition.video_kbps}k",
            "-bufsize", f"{rendition.video_kbps * 2}k", "-threads", "1"]


def encode(source: Path, wanted: dict[Rendition, Path], preview: Path, limits: Bounds = TRANSCODE) -> None:
    """Every rendition and the muted preview from one decode of the source: the decode of a phone's 1080p is a
    third of the work, and it was done once per file. -xerror: a damaged stream ends the run instead of leaving a
    clip with a hole in it. -t: a header may claim less than the file holds; no rendition is longer than a clip
    may be."""
    branches = [f"s{i}" for i in range(len(wanted) + 1)]
    graph = [f"[0:v:0]split={len(branches)}" + "".join(f"[{b}]" for b in branches)]
    outputs: list[str] = []
    for branch, (rendition, target) in zip(branches, wanted.items(), strict=False):
        graph.append(f"[{branch}]{scaled(rendition.height)}[{branch}out]")
        outputs += ["-map", f"[{branch}out]", *video_output(rendition), "-map", "0:a:0?", "-c:a", "aac",
                    "-b:a", f"{rendition.audio_kbps}k", "-ac", "2", "-t", str(MAX_SECONDS),
                    "-movflags", "+faststart", "-y", str(target)]
    graph.append(f"[{branches[-1]}]trim=duration={PREVIEW_SECONDS},setpts=PTS-STARTPTS,"
                 f"{scaled(RENDITIONS[0].height)}[preview]")
    outputs += ["-map", "[preview]", *video_output(RENDITIONS[0]), "-an", "-movflags", "+faststart",
                "-y", str(preview)]
    # One thread to decode, to filter and to encode: more would take both cores (and their memory) from the votes.
    run_ffmpeg(["-loglevel", "error", "-xerror", "-threads", "1", "-filter_complex_threads", "1", *INPUT_GUARDS,
                "-i", str(source), "-filter_complex", ";".join(graph), *outputs], limits)


def poster(source: Path, target: Path, facts: ClipFacts, limits: Bounds = TRANSCODE) -> None:
    at = min(1.0, (facts.seconds or 0) / 2)  # a frame past the first, often black or blurred
    run_ffmpeg(["-loglevel", "error", "-ss", f"{at:.2f}", "-threads", "1", *INPUT_GUARDS, "-i", str(source),
                "-frames:v", "1", "-vf", scaled(360), "-q:v", "4", "-threads", "1", "-y", str(target)], limits)


THUMB_SIDE = 192  # a 96 px picture on a phone's 2x screen


def thumbnail(poster_path: Path, target: Path) -> None:
    """The poster with its shorter side at THUMB_SIDE: some 6 KB where the poster weighs 16 or more."""
    with Image.open(poster_path) as picture:
        scale = THUMB_SIDE / min(picture.size)
        small = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                               Image.Resampling.LANCZOS) if scale < 1 else picture.copy()
    small.save(target, "JPEG", quality=70, optimize=True, progressive=True)


def poster_sizes(poster_path: Path) -> dict[PictureSize, Path]:
    """The poster at every PICTURE_SIZES, beside it ("poster-96.jpg", …)."""
    made = sized(poster_path.read_bytes(), PICTURE_SIZES)
    for size, jpeg in made.items():
        poster_path.with_name(size.name_of(poster_path.name)).write_bytes(jpeg)
    return {size: poster_path.with_name(size.name_of(poster_path.name)) for size in made}


def process_clip(source: Path, folder: Path, *, lowly: bool = True) -> ProcessedClip | RefusedClip:
    """Probe `source`; if it may enter, write its renditions, poster and preview into `folder`. `lowly`: ffmpeg
    runs under media.lowly, as the service's own processing must (`ffmpeg_bounds`)."""
    probe, transcode = ffmpeg_bounds(lowly)
    size = source.stat().st_size
    facts = examine_clip(source, probe) if size <= MAX_BYTES else None
    if (reason := refusal(facts, size)) is not None or not isinstance(facts, ClipFacts) or facts.video is None:
        return RefusedClip(reason or UNREADABLE)
    folder.mkdir(parents=True, exist_ok=True)
    shorter = min(facts.video[1], facts.video[2])
    wanted = [r for r in RENDITIONS if r is RENDITIONS[0] or shorter > RENDITIONS[0].height]
    renditions = {r.name: folder / f"{r.name}.mp4" for r in wanted}
    made = ProcessedClip(facts, renditions, folder / "poster.jpg", folder / "preview.mp4", folder / "thumb.jpg")
    try:
        encode(source, {rendition: renditions[rendition.name] for rendition in wanted}, made.preview, transcode)
        poster(source, made.poster, facts, transcode)
        thumbnail(made.poster, made.thumb)
        made.poster_sizes.update(poster_sizes(made.poster))
    except (FfmpegFailed, FfmpegTimedOut) as exc:
        # Nothing of a refused clip stays.
        for path in (*renditions.values(), made.poster, made.preview, made.thumb, *made.poster_sizes.values()):
            path.unlink(missing_ok=True)
        if isinstance(exc, FfmpegTimedOut):
            raise  # the job is tried again later: a busy machine is no reason to refuse the candidate
        log.info("clip %s refused: %s", source.name, exc)
        return RefusedClip(UNREADABLE)
    return made
