"""Candidate photos re-encoded: recognised by their content (JPEG, PNG or WebP, whatever the name or type claimed),
at most 5 MB and 12 megapixels (6 for WebP), decoded and re-encoded by Pillow as a fresh JPEG no larger than 800 px,
so no metadata, trailing bytes or script survives. The media worker re-encodes every photo with it, a candidate's
own and an organiser's alike; no web process decodes one.

A decode is bounded all the same: the size is read from the header before any pixel is, a JPEG is decoded at the
smallest scale that still gives 800 px (`draft`), other formats are reduced as soon as they are loaded.

`sized` makes the smaller copies pages show (gateway.core.media_storage.PICTURE_SIZES) from the clean JPEG."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from gateway.core.errors import DomainError
from gateway.core.media.uploads import PHOTO_MAX_BYTES
from gateway.core.media_storage import PICTURE_SIZES, PictureSize

MAX_BYTES = PHOTO_MAX_BYTES
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


def sized(jpeg: bytes, sizes: tuple[PictureSize, ...] = PICTURE_SIZES) -> dict[PictureSize, bytes]:
    """`jpeg` (what `reencode` made, or a poster) at each of `sizes`: a tile cropped to its middle square, a photo
    scaled to its width; never enlarged."""
    with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as image:
        image.load()
        return {size: jpeg_of(picture_at(image, size)) for size in sizes}


def picture_at(image: Image.Image, size: PictureSize) -> Image.Image:
    if not size.square:
        scaled = image.copy()
        scaled.thumbnail((size.width, size.width * image.height // max(1, image.width) or 1),
                         Image.Resampling.LANCZOS)
        return scaled
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.resize((min(side, size.width),) * 2, Image.Resampling.LANCZOS, (left, top, left + side, top + side))
