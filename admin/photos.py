"""Candidate photos: recognised by their content (JPEG, PNG or WebP, whatever the name or type
claimed), at most 5 MB, decoded and re-encoded by Pillow as a fresh JPEG no larger than 800 px, so no
metadata, trailing bytes or script survives; stored under random names in the data folder."""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from gateway.core.errors import DomainError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 5 MB file that decodes to more is a decompression bomb
SIDE = 800
FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")
URL_PREFIX = "/photos/"


class NotAnImage(DomainError):
    status = 415
    code = "not_an_image"


class PhotoTooLarge(DomainError):
    status = 413
    code = "photo_too_large"


def reencode(data: bytes) -> bytes:
    """The photo as a clean JPEG, or NotAnImage (too big, not JPEG/PNG/WebP, or broken)."""
    if len(data) > MAX_BYTES:
        raise PhotoTooLarge("A photo may be at most 5 MB.", field="photo")
    try:
        with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise NotAnImage("That image is too large to decode.", field="photo")
            image.load()
            clean = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage("The file is not a JPEG, PNG or WebP image.", field="photo") from exc
    clean.thumbnail((SIDE, SIDE))
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def photo_folder(data_dir: Path) -> Path:
    return data_dir / "photos"


def store(data_dir: Path, jpeg: bytes) -> str:
    """Write the photo under a random name; its public URL."""
    folder = photo_folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    (folder / name).write_bytes(jpeg)
    return URL_PREFIX + name


def stored_path(data_dir: Path, name: str) -> Path | None:
    if not NAME.match(name):
        return None
    path = photo_folder(data_dir) / name
    return path if path.is_file() else None
