"""A USSD vote during a database failover: Africa's Talking wants each hop answered within seconds, so the hop that
places the vote waits for a primary only briefly and ends the session with the "try again" screen; the web's vote,
which a client may wait for, waits longer (gateway.db.failover.PRIMARY_WAIT_SECONDS)."""

from __future__ import annotations

import time

from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.channels.ussd.sessions import Phones, hop, phone_app, prefixes
from tests.network import postgres_relay

ANSWERED_WITHIN = 10.0  # AT gives up on a hop after some 10 s; the vote waits 3 s for a primary, the rest is margin


async def test_the_placing_hop_ends_in_seconds_when_no_primary_answers(
        settings: Settings, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    relay, url = await postgres_relay(settings.database_url or "")
    app = phone_app(settings, phones, database_url=url)
    try:
        async with TestClient(TestServer(app)) as client:
            *walk, last = list(prefixes("1*07*1*1*1"))
            for text in walk:
                await hop(client, text)
            relay.refusing = True  # the primary gone, no other in yet
            relay.cut_open_connections()
            started = time.monotonic()
            screen = await hop(client, last)
            took = time.monotonic() - started
            await app[STARTS].close(grace=0)
    finally:
        await relay.close()
    assert screen.startswith("END ") and "Ref" not in screen, screen
    assert took < ANSWERED_WITHIN, f"the hop took {took:.1f} s"
