"""The photos organisers sent before photos went through the media storage (gateway.core.entries.former_photos),
served by the host that holds them (admin.pages.candidates) while their candidate is shown, until a media worker
of that host has moved them into the storage. No new one is made here: an organiser's photo now goes from the
browser straight to the media storage and the media worker prepares it (gateway.core.entries.candidate_media), as a
candidate's own does."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.core.entries.former_photos import NAME, folder_of
from gateway.core.media_storage import OWN_PHOTOS, PICTURE_SIZES, PictureSize

# A photo's sized copies beside it (PictureSize.name_of: "<name>-96.jpg"), served in its place while none is made.
SIZED_NAME = re.compile(r"^([0-9a-f]{32})-(\d{2,4})\.jpg$")
URL_PREFIX = OWN_PHOTOS


def original_name(name: str) -> str | None:
    """The photo a file name is of: itself, or the original of a sized copy's name; None for any other name."""
    sized = SIZED_NAME.match(name)
    if sized is not None and int(sized[2]) in {size.width for size in PICTURE_SIZES}:
        return f"{sized[1]}.jpg"
    return name if NAME.match(name) else None


def size_of(name: str) -> PictureSize | None:
    """The size a sized copy's name asks for (None for the photo itself, or any other name)."""
    sized = SIZED_NAME.match(name)
    return next((size for size in PICTURE_SIZES if sized is not None and size.width == int(sized[2])), None)


def stored_path(data_dir: Path, name: str) -> Path | None:
    if not NAME.match(name):
        return None
    path = folder_of(data_dir) / name
    return path if path.is_file() else None


def sized_path(data_dir: Path, name: str) -> Path | None:
    """A sized copy's file, if one was made (a photo stored before sizes has none)."""
    original = original_name(name)
    if original is None or original == name:
        return None
    path = folder_of(data_dir) / name
    return path if path.is_file() else None
