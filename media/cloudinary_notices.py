"""What Cloudinary tells the service about an upload, read into the service's words: its notifications (checked
as Cloudinary signs them), the Admin API's resource and a chunked upload's last answer.

An `upload` notification (or a resource) says the file arrived, its size, length and picture; a clip the entry
rules refuse (media.clip_rules: longer than a minute, no picture, not a video) is refused with the same words as
a clip the service's own ffmpeg probed. An `eager` notification says the renditions are made: the files, named as
media.processing names them, with their delivery URLs. Each is noted once on its upload (`note`)."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.core.entries.entries_review import photo_ready
from gateway.core.media import uploads
from gateway.core.media_storage import MadeFiles, MediaStorage, file_key
from gateway.db.engine import Sessions
from gateway.db.models import UploadKind
from media.clip_rules import ClipFacts, refusal
from media.cloudinary_api import made_for, notification_signature, upload_of

# Cloudinary's `format` of a video as ffmpeg's demuxer names it (media.clip_rules.CONTAINERS).
CONTAINERS = {"mp4": "mp4", "mov": "mov", "m4v": "mp4", "3gp": "3gp", "3g2": "3g2", "webm": "webm",
              "mkv": "matroska"}
PHOTO_FORMATS = frozenset({"jpg", "jpeg", "png", "webp", "heic"})
NOT_A_PHOTO = "This file is not a photo: send a JPEG or PNG picture."


class NotOurs(ValueError):
    """A notification or resource of a public id the service did not choose."""


@dataclass(frozen=True)
class CloudinaryNotice:
    upload_id: str
    kind: Literal["upload", "eager"]
    resource_type: str  # "video", "image"
    size_bytes: int | None
    facts: Mapping[str, object]  # seconds, width, height, codec, audio_streams (as the media jobs note them)
    files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # name -> key, url, content_type
    refusal: str | None = None  # the entry rules' words, for the candidate

    @property
    def made(self) -> MadeFiles | None:
        """What the service notes `ready` with, once the files are made and nothing refused the clip."""
        return MadeFiles(self.files, self.facts) if self.files and self.refusal is None else None


def verify_notification(body: bytes, timestamp_header: str, signature_header: str, api_secret: str, now: float,
                        max_age_seconds: float = 7200) -> bool:
    """Whether Cloudinary sent this notification: its signature over the raw body, and not older than
    `max_age_seconds` (Cloudinary's SDKs allow 7200 s), so a captured notification cannot be replayed later."""
    try:
        sent_at = int(timestamp_header)
    except ValueError:
        return False
    if not api_secret or sent_at < now - max_age_seconds or sent_at > now + 300:
        return False
    expected = notification_signature(body, timestamp_header, api_secret)
    return hmac.compare_digest(expected, signature_header.strip().lower())


def read_notification(payload: Mapping[str, Any]) -> CloudinaryNotice:
    """An upload or eager notification (after `verify_notification`); NotOurs for another kind or public id."""
    kind = payload.get("notification_type")
    if kind == "upload":
        return read_resource(payload, kind="upload")
    if kind == "eager":
        upload_id = _upload_id(payload)
        resource_type = str(payload.get("resource_type") or "video")
        return CloudinaryNotice(upload_id, "eager", resource_type, None, {},
                                _files(upload_id, resource_type, payload.get("eager")))
    raise NotOurs(f"not an upload or eager notification: {kind!r}")


def read_resource(resource: Mapping[str, Any], *, kind: Literal["upload", "eager"] = "upload") -> CloudinaryNotice:
    """A resource (the Admin API's, a chunked upload's last answer, an upload notification's body), with the
    files already made (its `eager` or `derived` entries) and the entry rules' refusal, if any."""
    upload_id = _upload_id(resource)
    resource_type = str(resource.get("resource_type") or "video")
    size = int(resource.get("bytes") or 0)
    made = resource.get("eager") or resource.get("derived")
    files = _files(upload_id, resource_type, made)
    if resource_type == "image":
        fmt = str(resource.get("format") or "")
        image_facts: dict[str, object] = {"bytes": size, "width": resource.get("width"),
                                          "height": resource.get("height")}
        return CloudinaryNotice(upload_id, kind, resource_type, size, image_facts, files,
                                None if fmt in PHOTO_FORMATS else NOT_A_PHOTO)
    facts = clip_facts(resource)
    noted = facts.noted() if facts is not None else {}
    return CloudinaryNotice(upload_id, kind, resource_type, size, noted, files, refusal(facts, size))


def clip_facts(resource: Mapping[str, Any]) -> ClipFacts | None:
    """What Cloudinary says of a video, as ffmpeg's description would have said it (media.clip_rules)."""
    container = CONTAINERS.get(str(resource.get("format") or "").lower())
    if container is None:
        return None
    video, audio = resource.get("video") or {}, resource.get("audio") or {}
    width, height = int(resource.get("width") or 0), int(resource.get("height") or 0)
    has_video = bool(video.get("codec")) and not resource.get("is_audio")
    duration = resource.get("duration")
    return ClipFacts(frozenset({container}), float(duration) if duration is not None else None,
                     (str(video["codec"]), width, height) if has_video else None,
                     video_streams=1 if has_video else 0, audio_streams=1 if audio.get("codec") else 0)


def _upload_id(payload: Mapping[str, Any]) -> str:
    upload_id = upload_of(str(payload.get("public_id") or ""))
    if upload_id is None:
        raise NotOurs(f"not one of the service's uploads: {payload.get('public_id')!r}")
    return upload_id


def _files(upload_id: str, resource_type: str, entries: object) -> dict[str, dict[str, str]]:
    """The eager/derived entries the service asked for, by its names; an entry that failed is left out."""
    files: dict[str, dict[str, str]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or entry.get("status") == "failed":
            continue
        made = made_for(resource_type, str(entry.get("transformation") or ""), entry.get("format"))
        url = entry.get("secure_url") or entry.get("url")
        if made is not None and url:
            files[made.name] = {"key": file_key(upload_id, made.file_name), "url": str(url),
                                "content_type": made.content_type}
    return files


async def note(sessions: Sessions, storage: MediaStorage, notice: CloudinaryNotice) -> str:
    """What the notice (or the Admin API's answer, when a notification was lost) says, noted once. A photo made
    ready goes to the candidate already made of its entry, as the media worker's does (`photo_ready`)."""
    try:
        upload_id = uuid.UUID(notice.upload_id)
    except ValueError:
        return "not ours"
    upload = await uploads.upload_of(sessions, upload_id)
    if upload is None:
        return "unknown"  # removed as an orphan meanwhile
    size = notice.size_bytes or 0
    if notice.kind == "upload" and size > upload.max_bytes:
        await uploads.note_refused(sessions, upload_id,
                                   f"The file is {size / 1024 / 1024:.0f} MB: at most "
                                   f"{upload.max_bytes // 1024 // 1024} MB.")
        return "refused"
    if notice.kind == "upload" or notice.made is not None:
        await uploads.note_received(sessions, upload_id, size or upload.max_bytes, storage_transcodes=True)
    if notice.refusal is not None:
        await uploads.note_refused(sessions, upload_id, notice.refusal, dict(notice.facts))
        return "refused"
    made = notice.made
    if made is not None:
        await uploads.note_ready(sessions, upload_id, made.facts, made.files)
        if upload.kind is UploadKind.PHOTO:
            await photo_ready(sessions, storage, upload_id)
        return "ready"
    return "received"
