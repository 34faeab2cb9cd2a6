"""What Cloudinary tells the service, read without a server: a notification is believed only with Cloudinary's
signature and while fresh; an eager notification becomes the service's files; and the provider speaks
Cloudinary's real API at the wire (respx), with the account's credentials."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from pydantic import SecretStr

from media.cloudinary import CloudinaryStorage
from media.cloudinary_notices import NotOurs, read_notification, verify_notification
from media.settings import CloudinaryAccount, CloudinarySettings, parse_cloudinary_url

SECRET = "test-api-secret-0123456789abcdef"
NOW = 1_760_000_000.0
UPLOAD = str(uuid.uuid4())


def signed(body: bytes, timestamp: str) -> str:
    """Cloudinary's X-Cld-Signature, computed here as its documentation gives it (SHA-1 of body, time, secret)."""
    return hashlib.sha1(body + timestamp.encode() + SECRET.encode()).hexdigest()


def test_a_notification_is_believed_only_with_cloudinarys_signature_and_while_fresh() -> None:
    body = json.dumps({"notification_type": "upload", "public_id": f"{UPLOAD}/source"}).encode()
    timestamp = str(int(NOW) - 60)
    assert verify_notification(body, timestamp, signed(body, timestamp), SECRET, NOW)
    assert not verify_notification(body, timestamp, signed(body, timestamp), "another-secret", NOW)
    assert not verify_notification(body.replace(b"upload", b"eager"), timestamp, signed(body, timestamp), SECRET, NOW)
    old = str(int(NOW) - 7201)  # a captured notification replayed later
    assert not verify_notification(body, old, signed(body, old), SECRET, NOW)
    assert not verify_notification(body, "soon", signed(body, "soon"), SECRET, NOW)


def test_an_eager_notification_becomes_the_services_files() -> None:
    base = "https://res.cloudinary.com/ballot/video/upload"
    notice = read_notification({
        "notification_type": "eager", "public_id": f"{UPLOAD}/source", "batch_id": "b1",
        "eager": [  # answered in Cloudinary's own order of parameters, with the format as the last step
            {"transformation": "ac_aac,br_600k,c_limit,h_640,vc_h264:main,w_640/mp4", "width": 640, "height": 360,
             "bytes": 123, "secure_url": f"{base}/x/{UPLOAD}/source.mp4"},
            {"transformation": "c_limit,h_640,so_auto,w_640/jpg", "secure_url": f"{base}/p/{UPLOAD}/source.jpg"},
            {"transformation": "c_limit,h_1280,w_1280,vc_h264:main,ac_aac,br_1900k/mp4", "status": "failed"},
            {"transformation": "e_sepia/mp4", "secure_url": f"{base}/s/{UPLOAD}/source.mp4"}]})
    assert notice.kind == "eager" and notice.upload_id == UPLOAD
    assert dict(notice.files) == {
        "360p": {"key": f"{UPLOAD}/360p.mp4", "url": f"{base}/x/{UPLOAD}/source.mp4", "content_type": "video/mp4"},
        "poster": {"key": f"{UPLOAD}/poster.jpg", "url": f"{base}/p/{UPLOAD}/source.jpg",
                   "content_type": "image/jpeg"}}
    with pytest.raises(NotOurs):  # a public id the service did not choose
        read_notification({"notification_type": "eager", "public_id": "../etc/passwd", "eager": []})


def test_cloudinary_url_is_read_as_cloudinarys_sdks_read_it() -> None:
    assert parse_cloudinary_url("cloudinary://123456:abcDEF-secret@MyCloud") == CloudinaryAccount(
        "MyCloud", "123456", "abcDEF-secret")
    with pytest.raises(ValueError):
        CloudinarySettings(cloudinary_url=SecretStr("cloudinary://123456@MyCloud"))  # no secret


@respx.mock
async def test_the_provider_speaks_cloudinarys_api_with_the_accounts_credentials() -> None:
    account = CloudinaryAccount("ballot", "123456", SECRET)
    api = "https://api.cloudinary.com/v1_1/ballot"
    video = respx.get(f"{api}/resources/video/upload/{UPLOAD}/source").respond(
        404, json={"error": {"message": f"Resource not found - {UPLOAD}/source"}})
    image = respx.get(f"{api}/resources/image/upload/{UPLOAD}/source").respond(
        200, json={"public_id": f"{UPLOAD}/source", "resource_type": "image", "bytes": 2048, "format": "jpg"})
    gone = respx.delete(f"{api}/resources/video/upload", params={"prefix": f"{UPLOAD}/"}).respond(
        200, json={"deleted": {}, "partial": False})
    respx.delete(f"{api}/resources/image/upload").respond(200, json={"deleted": {}, "partial": False})
    async with httpx.AsyncClient() as http:
        storage = CloudinaryStorage(account, http, "https://vote.example.org/hooks/cloudinary", clock=lambda: NOW)
        grant = storage.grant_upload(UPLOAD, "photo", 5 * 1024 * 1024, datetime.now(UTC) + timedelta(hours=2))
        found = await storage.received(UPLOAD)
        await storage.delete_upload(UPLOAD)
    assert grant.url == f"{api}/image/upload" and grant.fields["public_id"] == f"{UPLOAD}/source"
    to_sign = "&".join(f"{name}={grant.fields[name]}" for name in sorted(grant.fields)
                       if name not in ("api_key", "signature"))
    assert grant.fields["signature"] == hashlib.sha1((to_sign + SECRET).encode()).hexdigest()
    assert found is not None and found.size_bytes == 2048
    assert video.called and image.called and gone.called
    basic = "Basic " + base64.b64encode(f"123456:{SECRET}".encode()).decode()
    assert image.calls.last.request.headers["authorization"] == basic
    assert storage.public_url(f"{UPLOAD}/photo.jpg") == (
        f"https://res.cloudinary.com/ballot/image/upload/c_limit,w_1280,h_1280,q_auto/{UPLOAD}/source.jpg")
