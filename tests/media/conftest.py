"""The entering tests' fixtures: the media server and the web app as `gateway run` wires them (the web grants,
the media server receives), and a job context whose files go to the same storage and whose texts go to AT's
fake at the wire; the web app on Cloudinary's stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis

from assembly.resources.media import local_storage
from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext, build_receipt_senders
from channels.sms.channel import texter
from gateway.db.engine import Sessions
from gateway.kit.keys import MEDIA_STORAGE
from gateway.kit.outbound_tls import verified_tls
from media.cloudinary import CloudinaryStorage
from media.cloudinary_stand_in import stand_in_app
from media.settings import parse_cloudinary_url
from media.upload_server import database_hooks, media_app
from tests.payments.stripe import card_votes, stripe_checkout
from tests.servers import free_port


@dataclass
class Entering:
    web: TestClient
    media: TestClient
    settings: Settings


@pytest.fixture
async def entering(clean: None, settings: Settings, sessions: Sessions) -> AsyncIterator[Entering]:
    # Wired as `gateway media` wires it (its hooks on the database, the answer remembered as long as in production).
    media_server = TestServer(media_app(local_storage(settings), *database_hooks(sessions)))
    await media_server.start_server()
    base = str(media_server.make_url("")).rstrip("/")
    # Cards too (Stripe faked at the wire where a test pays by card): an entry's fee may be paid by card. Code
    # requests' work is solved here in Python, at 10 bits (a thousand hashes); the browser's test pays the default.
    wired = settings.model_copy(update={"media_upload_url": base, "media_files_url": base, "code_work_bits": 10,
                                        "stripe_secret_key": SecretStr("sk_test_x"),
                                        "stripe_webhook_secret": SecretStr(card_votes.SECRET),
                                        "stripe_api_base": stripe_checkout.API})
    async with TestClient(media_server) as media, TestClient(TestServer(create_app(wired))) as web:
        yield Entering(web, media, wired)
        await web.app[STARTS].close(grace=0)


@pytest.fixture
async def media_job(entering: Entering, sessions: Sessions, redis: Redis) -> AsyncIterator[JobContext]:
    """What a media worker has: the storage, and the SMS channel's texter (AT faked at the wire)."""
    settings = entering.settings.model_copy(update={"at_username": "sandbox",
                                                    "at_api_key": SecretStr("at-key-0123456789")})
    async with httpx.AsyncClient(verify=verified_tls()) as http:
        registry = build_providers(settings, http)
        yield JobContext(settings, sessions, redis, registry, build_receipt_senders(settings, sessions, http),
                         {"sms": texter(settings, sessions, http)}, local_storage(settings))
        await registry.aclose()


URL = "cloudinary://test-key:test-secret-for-the-service-0123@ballot-svc"
ACCOUNT = parse_cloudinary_url(URL)


@dataclass
class OnCloudinary:
    web: str
    storage: CloudinaryStorage
    http: httpx.AsyncClient
    settings: Settings


@pytest.fixture
async def on_cloudinary(clean: None, settings: Settings, tmp_path: Path) -> AsyncIterator[OnCloudinary]:
    """The web app with Cloudinary as its media storage (`MEDIA_STORAGE=cloudinary`), against its stand-in."""
    port = free_port()
    # Cloudinary transcodes on machines of its own: the stand-in's ffmpeg outside the idle class, where each of its
    # runs waited for a core the rest of a busy suite left idle (a test waited out two transcodes in 67 s).
    async with TestServer(stand_in_app(ACCOUNT, tmp_path / "cloudinary", lowly=False)) as stand_in:
        base = str(stand_in.make_url("")).rstrip("/")
        wired = settings.model_copy(update={
            "media_storage": "cloudinary", "cloudinary_url": SecretStr(URL), "cloudinary_api_base": base,
            "cloudinary_delivery_base": base, "public_base_url": f"http://127.0.0.1:{port}"})
        async with TestServer(create_app(wired), port=port) as server, httpx.AsyncClient(timeout=60) as http:
            storage = server.app[MEDIA_STORAGE]
            assert isinstance(storage, CloudinaryStorage)
            yield OnCloudinary(f"http://127.0.0.1:{port}", storage, http, wired)
            await server.app[STARTS].close(grace=0)
