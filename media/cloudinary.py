"""Cloudinary as the media storage (gateway.core.media_storage): the browser uploads straight to Cloudinary's
Upload API with parameters the service signed, Cloudinary makes the renditions itself (eager transformations,
in the background) and says so to `notification_url`; the service asks its Admin API whether a file is there.

The grant names the upload's public id (`<upload id>/source`: the service's key, never a name the browser chose),
the eager transformations (media.cloudinary_api), the formats allowed, where to notify, and `access_mode:
authenticated` (Cloudinary delivers nothing of an entry but on signed URLs until it is approved: `withhold`); the
browser sends them with each chunk (`X-Unique-Upload-Id`, `Content-Range`, chunks of at least 5 MB but the last)
and cannot change any without breaking the signature. A taken-down upload (a hidden candidate's, a rejected
entry's) is renamed, so no link handed out before finds it, signed or not (`withhold`). Server-side calls go
through the service's own httpx client."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.core.media_storage import PictureSize, Received, UploadGrant, source_key
from gateway.db.engine import Sessions
from media.cloudinary_api import (
    ALLOWED_FORMATS,
    CHUNK_BYTES,
    RESOURCE_TYPES,
    SIGNATURE_SECONDS,
    api_sign,
    delivery_signature,
    eager_of,
    made_named,
    sized_transformation,
    withheld_key,
)
from media.cloudinary_notices import CloudinaryNotice, note, read_resource
from media.settings import CloudinaryAccount

RESOURCE_ORDER = ("video", "image")  # an upload id names a clip or a photo: the Admin API is asked for each


class CloudinaryError(RuntimeError):
    """Cloudinary answered an error (its `{"error": {"message": …}}`)."""


class CloudinaryStorage:
    name = "cloudinary"
    transcodes = True
    sizes_by_url = True

    def __init__(self, account: CloudinaryAccount, http: httpx.AsyncClient, notification_url: str, *,
                 api_base: str = "https://api.cloudinary.com", delivery_base: str = "https://res.cloudinary.com",
                 clock: Callable[[], float] = time.time) -> None:
        self.account = account
        self.http = http
        self.notification_url = notification_url
        self.api_base = api_base.rstrip("/")
        self.delivery_base = delivery_base.rstrip("/")
        self.clock = clock
        self.upload_origin = _origin(self.api_base)
        self.files_origin = _origin(self.delivery_base)

    def api_url(self, path: str) -> str:
        return f"{self.api_base}/v1_1/{self.account.cloud_name}/{path}"

    def grant_upload(self, upload_id: str, kind: str, max_bytes: int, expires_at: datetime) -> UploadGrant:
        """Signed upload parameters for one file. Cloudinary refuses them an hour after `timestamp`, so the grant
        expires then at the latest; it has no size limit of its own: the size is checked when it is told."""
        resource_type = RESOURCE_TYPES[kind]
        timestamp = int(self.clock())
        params = {"public_id": source_key(upload_id), "timestamp": str(timestamp),
                  "eager": eager_of(resource_type), "eager_async": "true",
                  "notification_url": self.notification_url, "eager_notification_url": self.notification_url,
                  "allowed_formats": ALLOWED_FORMATS[resource_type], "overwrite": "false",
                  "access_mode": "authenticated"}
        fields = {**params, "api_key": self.account.api_key, "signature": api_sign(params, self.account.api_secret)}
        ends = min(expires_at, datetime.fromtimestamp(timestamp + SIGNATURE_SECONDS, UTC))
        return UploadGrant(upload_id, "cloudinary", self.api_url(f"{resource_type}/upload"), max_bytes, ends,
                           fields, CHUNK_BYTES)

    async def resource(self, upload_id: str) -> dict[str, Any] | None:
        """The Admin API's resource of the upload's source (`GET /resources/<type>/upload/<public id>`)."""
        for resource_type in RESOURCE_ORDER:
            answer = await self.http.get(self.api_url(f"resources/{resource_type}/upload/{source_key(upload_id)}"),
                                         auth=self._admin_auth())
            if answer.status_code == 404:
                continue
            found: dict[str, Any] = _checked(answer)
            return found
        return None

    async def notice(self, upload_id: str) -> CloudinaryNotice | None:
        """What the Admin API says of the upload, read as a notification is (a lost notification's stand-in)."""
        found = await self.resource(upload_id)
        return read_resource(found) if found is not None else None

    async def received(self, upload_id: str) -> Received | None:
        found = await self.resource(upload_id)
        return Received(int(found.get("bytes") or 0)) if found is not None else None

    async def fetch_source(self, upload_id: str, into: Path) -> Path:
        found = await self.resource(upload_id)
        url = found.get("secure_url") or found.get("url") if found else None
        if not url:
            raise FileNotFoundError(f"upload {upload_id} has no source")
        target = into / "source"
        async with self.http.stream("GET", str(url)) as answer:
            answer.raise_for_status()
            with target.open("wb") as out:
                async for chunk in answer.aiter_bytes():
                    out.write(chunk)
        return target

    async def put(self, key: str, path: Path, content_type: str) -> None:
        """A file the service made, uploaded under its key (signed, server-side). A photo the service cleaned
        itself (`<upload id>/photo.jpg`: a former photo moved in, media.former_photos) is uploaded as the upload's
        source, authenticated and with its renditions asked for as a grant's is: that is what the photo's URLs
        deliver (`public_url`, `sized_url`) and what `withhold` sets. No notification is asked for: the service
        notes the upload ready itself. Cloudinary makes a clip's files itself: none of them is put here."""
        upload_id, _, file_name = key.partition("/")
        resource_type = "video" if content_type.startswith("video/") else "image"
        if made_named("video", file_name) is not None:
            raise ValueError(f"Cloudinary makes {file_name} itself")
        params = {"public_id": key.rpartition(".")[0], "timestamp": str(int(self.clock())), "overwrite": "true"}
        if made_named(resource_type, file_name) is not None:
            params |= {"public_id": source_key(upload_id), "eager": eager_of(resource_type), "eager_async": "true",
                       "access_mode": "authenticated"}
        with path.open("rb") as file:
            answer = await self.http.post(self.api_url(f"{resource_type}/upload"), data=self._signed(params),
                                          files={"file": (path.name, file, content_type)})
        _checked(answer)

    def public_url(self, key: str) -> str:
        """`https://res.cloudinary.com/<cloud>/<type>/upload/<transformation>/<upload id>/source.<ext>` for the
        service's key of an eager file (`<upload id>/360p.mp4`); a key `put` stored is delivered as it is."""
        resource_type, path = self._delivered(key)
        return f"{self.delivery_base}/{self.account.cloud_name}/{resource_type}/upload/{path}"

    def sized_url(self, url: str, size: PictureSize) -> str | None:
        """The photo or poster made at `size` by a transformation in its URL (made on the first request, then
        kept by Cloudinary's CDN): `…/image/upload/c_fill,w_96,h_96,q_auto/<upload id>/source.jpg`."""
        prefix = f"{self.delivery_base}/{self.account.cloud_name}/"
        resource_type, _, rest = url.removeprefix(prefix).partition("/upload/")
        transformation, _, path = rest.partition("/")
        sized = sized_transformation(resource_type, transformation, size) if url.startswith(prefix) else None
        return f"{prefix}{resource_type}/upload/{sized}/{path}" if sized else None

    def signed_url(self, key: str) -> str:
        """The same file on a signed delivery URL, which Cloudinary serves whatever the access mode. Cloudinary's
        signed URLs do not expire (its expiring tokens are an Enterprise option): one works until the file is
        removed, and is shown only to the candidate and the organiser."""
        resource_type, path = self._delivered(key)
        signature = delivery_signature(path, self.account.api_secret)
        return f"{self.delivery_base}/{self.account.cloud_name}/{resource_type}/upload/{signature}/{path}"

    def _delivered(self, key: str) -> tuple[str, str]:
        """The resource type and what follows `/upload/` in a file's delivery URL."""
        upload_id, _, file_name = key.partition("/")
        for resource_type in RESOURCE_ORDER:
            made = made_named(resource_type, file_name)
            if made is not None:
                return resource_type, f"{made.transformation}/{source_key(upload_id)}.{made.extension}"
        return ("video" if file_name.endswith(".mp4") else "image"), key

    async def delete_upload(self, upload_id: str) -> None:
        """Every resource under the upload's folder, with what was derived from it (the Admin API's
        `DELETE /resources/<type>/upload?prefix=`)."""
        for resource_type in RESOURCE_ORDER:
            answer = await self.http.delete(self.api_url(f"resources/{resource_type}/upload"),
                                            params={"prefix": f"{upload_id}/", "invalidate": "true"},
                                            auth=self._admin_auth())
            _checked(answer)

    async def processed(self, upload_id: str) -> None:
        """Cloudinary keeps the original beside what is made of it (a photo our worker re-encoded)."""

    async def settle_late(self, sessions: Sessions, upload_id: str) -> bool:
        """It prepares clips itself: what its Admin API says of the upload, noted as the lost notice would have
        been."""
        found = await self.notice(upload_id)
        if found is not None:
            await note(sessions, self, found)
        return True

    async def withhold(self, upload_id: str, hidden: bool, taken_down: bool = False) -> None:
        """The upload's access mode (Admin API `update_access_mode`, a clip or a photo): `authenticated`, and
        Cloudinary delivers it and what was made from it only on signed URLs, which no public page shows;
        `public` once viewers may have it.

        Taken down (a hidden candidate's, a rejected entry's), the access mode is not enough: Cloudinary serves an
        authenticated file to any signed URL, and its signed URLs never expire. So the source is renamed (Upload
        API `rename`) to `<upload id>/withheld`: Cloudinary's rename is immediate in its storage, and every URL of
        the former name (signed or not, the renditions' too) finds nothing from then on; `invalidate` has its CDN
        drop the copies it kept of them (within seconds to minutes, its documentation says; up to 30 days
        without). Shown again, it is renamed back (the links the service hands out name `source` again) and its
        renditions asked for again (`explicit` with the same eager transformations): Cloudinary says the derived
        files of a renamed asset are no longer valid. Until they are made, a shown-again clip does not play."""
        mode = {"access_mode": "authenticated" if hidden or taken_down else "public"}
        if taken_down:  # authenticated first: never public under a name that might be guessed
            await self._set_access_mode(source_key(upload_id), mode)
            await self._rename(source_key(upload_id), withheld_key(upload_id), invalidate=True)
            return
        for resource_type in await self._rename(withheld_key(upload_id), source_key(upload_id)):
            await self._explicit_eager(resource_type, source_key(upload_id))
        await self._set_access_mode(source_key(upload_id), mode)

    async def _set_access_mode(self, public_id: str, mode: dict[str, str]) -> None:
        for resource_type in RESOURCE_ORDER:
            answer = await self.http.post(self.api_url(f"resources/{resource_type}/upload/update_access_mode"),
                                          auth=self._admin_auth(), data={**mode, "public_ids[]": public_id})
            _checked(answer)

    async def _rename(self, from_id: str, to_id: str, *, invalidate: bool = False) -> list[str]:
        """Rename a clip's or a photo's resource (a signed Upload API call, not counted against the Admin API's
        hourly limit); the resource types it was found under ([] once done: a repeated job changes nothing)."""
        renamed = []
        for resource_type in RESOURCE_ORDER:
            params = {"from_public_id": from_id, "to_public_id": to_id, "timestamp": str(int(self.clock()))}
            if invalidate:
                params["invalidate"] = "true"
            answer = await self.http.post(self.api_url(f"{resource_type}/rename"), data=self._signed(params))
            if answer.status_code != 404:  # "Resource not found": not of this type, or renamed already
                _checked(answer)
                renamed.append(resource_type)
        return renamed

    async def _explicit_eager(self, resource_type: str, public_id: str) -> None:
        """Have Cloudinary make the service's renditions of a resource again, in the background (Upload API
        `explicit` with `eager` and `eager_async`)."""
        params = {"public_id": public_id, "type": "upload", "eager": eager_of(resource_type), "eager_async": "true",
                  "timestamp": str(int(self.clock()))}
        _checked(await self.http.post(self.api_url(f"{resource_type}/explicit"), data=self._signed(params)))

    def _signed(self, params: dict[str, str]) -> dict[str, str]:
        return {**params, "api_key": self.account.api_key, "signature": api_sign(params, self.account.api_secret)}

    def _admin_auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.account.api_key, self.account.api_secret)


def _checked(answer: httpx.Response) -> Any:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code >= 400 or not isinstance(body, dict):
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        raise CloudinaryError(f"Cloudinary answered {answer.status_code}: {message or answer.text[:200]}")
    return body


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
