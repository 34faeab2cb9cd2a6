"""A worker texts SMS voters over one connection to Africa's Talking, kept between texts and between jobs. The SDK
alone opens a connection for every text, which against AT's hosts is a TCP and a TLS handshake (round trips to AT)
before each reply, inside a worker that answers one message at a time. AT is its local stand-in here, on a port of
the test's own, so that the connections it accepts can be counted."""

from __future__ import annotations

import httpx
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from assembly.machine.demo import seed_demo
from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext
from channels.sms.channel import sms_context
from channels.sms.fake_at import STATE, create_fake_at_app
from channels.sms.handling import handle_inbound
from gateway.db.engine import Sessions
from tests.channels.sms.test_voting import receive
from tests.fakes.mtn import FakeMtn


async def test_a_workers_replies_to_three_voters_go_over_one_kept_connection(
        client: TestClient, sessions: Sessions, settings: Settings, redis: Redis, fake_mtn: FakeMtn) -> None:
    await seed_demo(sessions)
    fake_at = create_fake_at_app()
    peers: list[object] = []

    async def note_peer(request: web.Request, response: web.StreamResponse) -> None:
        if request.transport is not None:
            peers.append(request.transport.get_extra_info("peername"))

    fake_at.on_response_prepare.append(note_peer)
    async with TestServer(fake_at, host="127.0.0.1") as at_server, httpx.AsyncClient() as http:
        at_settings = settings.model_copy(update={"at_fake_url": f"http://127.0.0.1:{at_server.port}"})
        registry = build_providers(at_settings, http)
        job = JobContext(at_settings, sessions, redis, registry)
        try:
            for n in range(3):  # three messages, each its own job in one worker
                inbound_id = await receive(client, sessions, "vote 07 2", f"ATXid_kept{n}", sender=f"+23767000001{n}")
                assert await handle_inbound(sms_context(job), inbound_id) == "vote"
        finally:
            job.close_shared()
            await registry.aclose()
        assert [m.to for m in fake_at[STATE].messages] == ["+237670000010", "+237670000011", "+237670000012"]
        assert len(set(peers)) == 1, f"{len(set(peers))} connections for {len(peers)} texts"
