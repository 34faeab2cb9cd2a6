"""The demo's stand-ins for what candidates send: a short clip and a photo per candidate, made on this machine from
ffmpeg's test sources and Pillow (nothing downloaded), each in a colour and (the clip) a tone of its own, with the
candidate's name on it where ffmpeg can draw text (a build with fonts: imageio-ffmpeg's has libfreetype and
fontconfig; a machine without a font gets the colour and the tone alone). They are what a phone would upload:
the demo then puts them through the same processing as an entry's (media.processing, media.photos)."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from media.ffmpeg import GENERATE, FfmpegFailed, run_ffmpeg

log = logging.getLogger(__name__)

CLIP_SECONDS = 3
CLIP_SIZE = (640, 360)  # one 360p rendition, as from a phone filming small: the demo's processing stays quick
PHOTO_SIDE = 600


@dataclass(frozen=True)
class Look:
    """What tells one demo candidate from another with the sound off or the name unreadable."""

    colour: str  # #rrggbb
    tone_hz: int


# Eight colours far apart, and the notes of a scale from A3 (one each, up to A4).
LOOKS = tuple(Look(colour, tone) for colour, tone in zip(
    ("#c0392b", "#2e86de", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#c71585", "#7f8c8d"),
    (220, 247, 277, 294, 330, 370, 415, 440), strict=True))


def look_of(index: int) -> Look:
    return LOOKS[index % len(LOOKS)]


def filter_path(path: Path) -> str:
    """A path as a filter option's value: `\\`, `:` and `'` would end or split it."""
    return "'" + str(path).replace("\\", "/").replace(":", "\\:").replace("'", "") + "'"


def picture_graph(look: Look, caption_file: Path | None) -> str:
    """The candidate's colour, ffmpeg's moving test pattern crossing it (so it plays as a video, not a still) and
    the name in the middle, small enough to stay whole where a list crops the poster square (its middle 56%)."""
    width, height = CLIP_SIZE
    graph = (f"color=c={look.colour.replace('#', '0x')}:size={width}x{height}:rate=25[ground];"
             f"testsrc2=size=160x90:rate=25[pattern];"
             f"[ground][pattern]overlay=x='mod(t*120,W-w)':y=H-h-16:shortest=1")
    if caption_file is not None:
        graph += (f",drawtext=textfile={filter_path(caption_file)}:fontcolor=white:fontsize=36"
                  ":x=(w-tw)/2:y=(h-th)/2-30:box=1:boxcolor=black@0.35:boxborderw=12")
    return graph + "[picture]"


def encode_clip(target: Path, look: Look, caption_file: Path | None) -> None:
    # Encoded as a phone would send it (H.264/AAC in MP4), quickly: processing makes the renditions viewers get.
    run_ffmpeg(["-loglevel", "error", "-filter_complex", picture_graph(look, caption_file),
                "-f", "lavfi", "-i", f"sine=frequency={look.tone_hz}:sample_rate=44100",
                "-map", "[picture]", "-map", "0:a", "-t", str(CLIP_SECONDS),
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1",
                "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-f", "mp4", "-y", str(target)], GENERATE)


def make_clip(target: Path, name: str, look: Look) -> Path:
    """A clip of a few seconds with `name` on it; without the name if this ffmpeg finds no font to draw it."""
    caption = target.with_name(target.name + ".caption.txt")
    caption.write_text(name, encoding="utf-8")
    try:
        encode_clip(target, look, caption)
    except FfmpegFailed as exc:
        log.info("demo clip of %s without its caption (ffmpeg draws no text here: %s)", name, exc)
        encode_clip(target, look, None)
    finally:
        caption.unlink(missing_ok=True)
    return target


def make_photo(name: str, look: Look) -> bytes:
    """A square PNG in the candidate's colour with their initials, as a phone's photo would come (then re-encoded
    as every photo is: media.photos)."""
    picture = Image.new("RGB", (PHOTO_SIDE, PHOTO_SIDE), look.colour)
    initials = "".join(word[0] for word in name.split()[:2]).upper()
    draw = ImageDraw.Draw(picture)
    draw.text((PHOTO_SIDE / 2, PHOTO_SIDE / 2), initials, fill="white", anchor="mm",
              font=ImageFont.load_default(size=PHOTO_SIDE // 3))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()
