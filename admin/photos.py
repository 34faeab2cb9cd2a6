"""Candidate photos: recognised by their content (JPEG, PNG or WebP, whatever the name or type
claimed), at most 5 MB and 12 megapixels (6 for WebP), decoded and re-encoded by Pillow as a fresh JPEG no larger
than 800 px, so no metadata, trailing bytes or script survives; stored under random names in the data
folder.

The web process that takes votes is the one decoding them, so a decode is bounded: the size is read
from the header before any pixel is, a JPEG is decoded at the smallest scale that still gives 800 px
(`draft`), other formats are reduced as soon as they are loaded, and a process decodes one photo at a
time, on one thread (`reencode_in_turn`), whatever number arrive together."""

from __future__ import annotations

import asyncio
import io
import re
import secrets
from concurrent.futures import Executor
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.errors import DomainError
from gateway.db.engine import Sessions
from gateway.db.models import Candidate

MAX_BYTES = 5 * 1024 * 1024
# 12 Mpx is a 4000 x 3000 camera photo, ample for an 800 px result; decoded as RGBA it is 48 MB. A small
# file claiming more is a decompression bomb (a 155 KB PNG can hold 40 Mpx, 160 MB decoded).
MAX_PIXELS = 12_000_000
# Pillow decodes a WebP three times over (libwebp's canvas, a copy of it, the image): some 15 bytes a
# pixel, so it gets half the pixels to stay within what the largest PNG costs (about 90 MB).
MAX_PIXELS_OF = {"WEBP": 6_000_000}
SIDE = 800
FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
# 8 bits a channel: grey, palette, colour, with or without alpha. Not 16-bit or floating point (I, I;16,
# F: no photo a contest page needs, and larger to decode) nor CMYK, whose colours come out wrong without
# the ICC profile we drop (and whose progressive JPEGs are the costliest of all to decode).
MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
BACKGROUND = (255, 255, 255)  # what shows through transparent parts: JPEG has no alpha
NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")
URL_PREFIX = "/photos/"


class NotAnImage(DomainError):
    status = 415
    code = "not_an_image"


class PhotoTooLarge(DomainError):
    status = 413
    code = "photo_too_large"


def reencode(data: bytes) -> bytes:
    """The photo as a clean JPEG; PhotoTooLarge or NotAnImage (not JPEG/PNG/WebP, an odd mode, broken)."""
    if len(data) > MAX_BYTES:
        raise PhotoTooLarge("A photo may be at most 5 MB.", field="photo")
    try:
        with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as image:
            check_header(image)
            image.draft("RGB", (SIDE, SIDE))  # JPEG: decode at 1/2, 1/4 or 1/8 scale; others ignore it
            image.load()
            clean = shrunk(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise NotAnImage("The file is not a JPEG, PNG or WebP image.", field="photo") from exc
    return jpeg_of(clean)


def check_header(image: Image.Image) -> None:
    """Size and mode as the header says them, before a pixel is decoded."""
    limit = MAX_PIXELS_OF.get(image.format or "", MAX_PIXELS)
    if image.width * image.height > limit:
        raise PhotoTooLarge(f"A {image.format} photo may have at most {limit // 1_000_000} megapixels (this one "
                            f"is {image.width} x {image.height} pixels).", field="photo")
    if image.mode not in MODES:
        raise NotAnImage(f"Photos in {image.mode} mode are not taken: send an ordinary colour or grey photo "
                         "(RGB, 8 bits a channel).", field="photo")


def shrunk(image: Image.Image) -> Image.Image:
    """An RGB image of its own, at most SIDE x SIDE, holding the pixels alone: nothing of the upload's
    metadata (a JPEG comment, EXIF, ICC, XMP, PNG text chunks) rides along, whatever the format kept of it
    on loading. Transparency is painted on white at full size (a copy in RGB costs less than resizing with
    alpha, which premultiplies it into a full RGBa copy); opaque images are reduced first, in place."""
    if image.mode in ("1", "P"):  # a palette image resizes nearest-neighbour only: give it its colours
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA"):
        clean = Image.new("RGB", image.size, BACKGROUND)
        clean.paste(image, mask=image)
        image.close()
        clean.thumbnail((SIDE, SIDE))
        return clean
    image.thumbnail((SIDE, SIDE))  # a whole-factor reduce first, so the full-size decode goes early
    clean = Image.new("RGB", image.size, BACKGROUND)
    clean.paste(image.convert("RGB"))
    return clean


def jpeg_of(clean: Image.Image) -> bytes:
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


async def reencode_in_turn(decoder: Executor, data: bytes) -> bytes:
    """`reencode` on the process's one photo thread (app key PHOTO_DECODER): the event loop keeps serving
    votes meanwhile, photos sent together wait their turn, and a request given up mid-decode (the client
    gone, the upload's deadline) still holds the thread until its decode ends, so no second decode runs
    beside it. One thread also means one malloc arena, whose freed pages the next decode reuses."""
    return await asyncio.get_running_loop().run_in_executor(decoder, reencode, data)


def photo_folder(data_dir: Path) -> Path:
    return data_dir / "photos"


def store(data_dir: Path, jpeg: bytes) -> str:
    """Write the photo under a random name; its public URL."""
    folder = photo_folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    (folder / name).write_bytes(jpeg)
    return URL_PREFIX + name


async def attach(sessions: Sessions, actor: Actor, candidate_id: int, data_dir: Path,
                 jpeg: bytes) -> Candidate:
    """Store the photo and make it the candidate's; a candidate that refuses it leaves no file behind."""
    url = store(data_dir, jpeg)
    try:
        return await contests_admin.set_candidate_photo(sessions, actor, candidate_id, url)
    except BaseException:
        discard(data_dir, url)
        raise


def discard(data_dir: Path, url: str) -> None:
    """Remove a photo just stored whose candidate then refused it."""
    path = stored_path(data_dir, url.removeprefix(URL_PREFIX))
    if path is not None:
        path.unlink(missing_ok=True)


def stored_path(data_dir: Path, name: str) -> Path | None:
    if not NAME.match(name):
        return None
    path = photo_folder(data_dir) / name
    return path if path.is_file() else None
