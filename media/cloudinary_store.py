"""The stand-in's files (media.cloudinary_stand_in), in a folder of its own:

    <data>/chunks/<hash>        a chunked upload under way, its bytes at their offsets (+ .ranges)
    <data>/sources/<type>/<public id>      a whole upload, as it came
    <data>/resources/<type>/<public id>.json   its resource, as the Admin API answers it
    <data>/derived/<type>/<public id>/<file>   what its eager transformations made (360p.mp4, poster.jpg, …)

What a file is comes from ffmpeg's probe or Pillow, never from its name; the eager files are made for real by
media.processing (a clip) or Pillow (a photo), so a page in development plays what production would."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from media.cloudinary_api import FILES, Made
from media.processing import ProcessedClip, ffmpeg_bounds, probe_clip, process_clip

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # Cloudinary's free plan caps a video at 100 MB
PHOTO_BOX = 1280


class Unusable(ValueError):
    """What Cloudinary would refuse at upload (its message)."""


@dataclass(frozen=True)
class Store:
    root: Path

    def source(self, resource_type: str, public_id: str) -> Path:
        return self.root / "sources" / resource_type / public_id

    def resource_file(self, resource_type: str, public_id: str) -> Path:
        return self.root / "resources" / resource_type / f"{public_id}.json"

    def derived(self, resource_type: str, public_id: str, made: Made) -> Path:
        return self.root / "derived" / resource_type / public_id / made.file_name

    def chunks(self, key: str) -> Path:
        return self.root / "chunks" / key

    def resource(self, resource_type: str, public_id: str) -> dict[str, Any] | None:
        path = self.resource_file(resource_type, public_id)
        if not path.is_file():
            return None
        found: dict[str, Any] = json.loads(path.read_text())
        return found

    def keep(self, resource: dict[str, Any]) -> None:
        path = self.resource_file(str(resource["resource_type"]), str(resource["public_id"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(resource))
        partial.replace(path)

    def public_ids(self, resource_type: str, prefix: str) -> list[str]:
        folder = self.root / "resources" / resource_type
        found = (str(path.relative_to(folder))[: -len(".json")] for path in folder.rglob("*.json"))
        return sorted(public_id for public_id in found if public_id.startswith(prefix))

    def rename(self, resource_type: str, resource: dict[str, Any], to_id: str, base: str) -> dict[str, Any]:
        """A resource under another public id: its source moved, what was derived under the former one let go
        (Cloudinary: the URLs of a renamed asset and of its derived assets are no longer valid)."""
        from_id = str(resource["public_id"])
        target = self.source(resource_type, to_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.source(resource_type, from_id).replace(target)
        url = f"{base}/v{resource['version']}/{to_id}.{resource['format']}"
        renamed = {**resource, "public_id": to_id, "url": url, "secure_url": url, "derived": []}
        self.keep(renamed)
        self.remove(resource_type, from_id)
        return renamed

    def remove(self, resource_type: str, public_id: str) -> None:
        self.resource_file(resource_type, public_id).unlink(missing_ok=True)
        self.source(resource_type, public_id).unlink(missing_ok=True)
        shutil.rmtree(self.root / "derived" / resource_type / public_id, ignore_errors=True)


def describe(path: Path, resource_type: str, lowly: bool = True) -> dict[str, Any]:
    """The resource's own facts, as Cloudinary reports them; Unusable for what it would refuse. `lowly`: ffprobe
    under media.lowly (media.processing.ffmpeg_bounds)."""
    size = path.stat().st_size
    if resource_type == "image":
        try:
            with Image.open(path) as image:
                return {"format": (image.format or "").lower().replace("jpeg", "jpg"), "width": image.width,
                        "height": image.height, "bytes": size}
        except (UnidentifiedImageError, OSError) as exc:
            raise Unusable("Invalid image file") from exc
    facts = probe_clip(path, ffmpeg_bounds(lowly)[0])
    if facts is None:
        raise Unusable("Unsupported video format or file")
    video = facts.video
    return {"format": video_format(path, facts.containers), "bytes": size, "duration": facts.seconds,
            "width": video[1] if video else 0, "height": video[2] if video else 0,
            "video": {"codec": video[0]} if video else {}, "audio": {"codec": "aac"} if facts.audio_streams else {},
            "is_audio": video is None}


def video_format(path: Path, containers: frozenset[str]) -> str:
    """Cloudinary's `format`: ffmpeg names one demuxer for mp4/mov/3gp (and one for webm/mkv): the file's own
    brand tells them apart."""
    with path.open("rb") as file:
        head = file.read(64)
    if "matroska" in containers:
        return "webm" if b"webm" in head else "mkv"
    brand = head[8:12] if head[4:8] == b"ftyp" else b""
    return "mov" if brand == b"qt  " else "3gp" if brand.startswith(b"3gp") else "mp4"


def make_eager(store: Store, resource_type: str, public_id: str, lowly: bool = True) -> list[Made]:
    """Make the service's files from the source (slow: in a thread, one at a time); [] when ffmpeg refuses it.
    `lowly`: ffmpeg under media.lowly (media.processing.ffmpeg_bounds)."""
    source = store.source(resource_type, public_id)
    if resource_type == "image":
        return _photo(store, source, public_id)
    with tempfile.TemporaryDirectory(prefix="cld-stand-in-") as work:
        made = process_clip(source, Path(work) / "made", lowly=lowly)
        if not isinstance(made, ProcessedClip):
            return []
        outputs = {"360p": made.renditions["360p"], "720p": made.renditions.get("720p", made.renditions["360p"]),
                   "poster": made.poster, "preview": made.preview}
        for wanted in FILES["video"]:
            target = store.derived("video", public_id, wanted)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(outputs[wanted.name], target)
    return list(FILES["video"])


def _photo(store: Store, source: Path, public_id: str) -> list[Made]:
    wanted = FILES["image"][0]
    target = store.derived("image", public_id, wanted)
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        picture = ImageOps.exif_transpose(image).convert("RGB")  # upright, and without the camera's metadata
        picture.thumbnail((PHOTO_BOX, PHOTO_BOX))
        picture.save(target, "JPEG", quality=85)
    return [wanted]


def size_of(path: Path, made: Made, lowly: bool = True) -> tuple[int, int]:
    """A made file's picture size, for its eager entry; `lowly`: ffprobe under media.lowly."""
    if made.content_type.startswith("image/"):
        with Image.open(path) as image:
            return image.width, image.height
    facts = probe_clip(path, ffmpeg_bounds(lowly)[0])
    return (facts.video[1], facts.video[2]) if facts and facts.video else (0, 0)
