"""Anyone can send callbacks: a flood of them about no order of ours must not fill the disk, and must
never cost a provider's genuine callback its place."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import uuid

from aiohttp.test_utils import TestClient
from sqlalchemy import select, text

from gateway.core.money_in.callback_settling import KEPT_BODY_BYTES
from gateway.core.money_in.collections import WHOLE_EVENTS_PER_ORDER
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, ProviderEvent
from gateway.kit.keys import CHECKS
from gateway.kit.throttle import UNTIED_LIMIT
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback, callback_path, reference_of, vote
from tests.servers import inside_one_window

MEGABYTE = 1024 * 1024
# What the attack sent: ~80 KB of headers (aiohttp takes up to 128 fields of 8 KB) and ~60 KB bodies.
BIG_HEADERS = {f"X-Padding-{n}": "h" * 8000 for n in range(10)}


def big_body() -> bytes:
    """~60 KB that does not compress (PostgreSQL would squeeze a run of one letter to nothing)."""
    return json.dumps({"status": "SUCCESSFUL", "notif_token": "x", "junk": secrets.token_hex(30_000)}).encode()


async def events_size(sessions: Sessions) -> int:
    """The bytes kept in `provider_events`, each row whole (its TOASTed values included, as stored). Not the
    files' size: PostgreSQL 15 extends a table by up to 20 pages for every insert waiting on its extension lock,
    so 30 rows inserted 20 at a time grew the files by 180-890 KB where one at a time grew them by 130 KB."""
    async with sessions() as session:
        return int(await session.scalar(text("SELECT sum(pg_column_size(e.*)) FROM provider_events e")) or 0)


async def flood(client: TestClient, requests: int) -> list[tuple[int, bytes, str | None]]:
    """`requests` callbacks about no order of ours, spread over the three callback routes, 20 at a
    time: (status, body sent, error code answered)."""
    targets = [("PUT", "/payments/mtn/callback/{}"), ("POST", "/payments/orange/notify/{}"),
               ("POST", "/payments/stripe/webhook")]
    gate = asyncio.Semaphore(20)

    async def send(n: int) -> tuple[int, bytes, str | None]:
        method, path = targets[n % 3]
        body = big_body()
        async with gate:
            response = await client.request(method, path.format(uuid.uuid4()), data=body,
                                            headers={**BIG_HEADERS, "Content-Type": "application/json"})
            answer = await response.json()
        return response.status, body, answer.get("error", {}).get("code")

    return await asyncio.gather(*(send(n) for n in range(requests)))


async def test_300_big_callbacks_about_no_order_grow_the_database_by_less_than_a_megabyte(
        client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    before = await events_size(sessions)
    await inside_one_window()
    answers = await flood(client, 300)
    await client.app[CHECKS].wait_idle()
    grown = await events_size(sessions) - before
    assert grown < MEGABYTE, f"provider_events grew by {grown} bytes"
    statuses = [status for status, _, _ in answers]
    assert statuses.count(429) == 300 - UNTIED_LIMIT  # the rest: taken, kept bounded
    assert {code for status, _, code in answers if status == 429} == {"rate_limited"}
    taken = {code for status, _, code in answers if status != 429}
    assert taken == {None, "unknown_order", "provider_unavailable"}  # the big headers reached our code
    async with sessions() as session:
        kept = list(await session.scalars(select(ProviderEvent)))
    assert len(kept) == UNTIED_LIMIT
    sent = {hashlib.sha256(body).hexdigest(): len(body) for _, body, _ in answers}
    for event in kept:  # enough to see what it was, and to recognise the whole should it come again
        assert len(event.body) <= KEPT_BODY_BYTES and event.body.startswith('{"status": "SUCCESSFUL"')
        assert sent[event.headers[":body-sha256"]] == int(event.headers[":body-bytes"])
        assert not any(name.startswith("x-padding") for name in event.headers)
        assert int(event.headers[":headers-dropped"]) >= 10 and event.headers["content-type"] == "application/json"


async def test_a_genuine_callback_for_a_known_order_is_taken_and_kept_whole_after_the_limit_is_hit(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)
    await inside_one_window()
    answers = await flood(client, UNTIED_LIMIT + 3)
    assert [status for status, _, _ in answers].count(429) == 3  # this address is over its limit
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    genuine = {"status": "SUCCESSFUL", "financialTransactionId": "mtn-1", "note": "n" * 5000}
    assert await callback(client, order_id, genuine) == 200  # from the same address, still taken
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 3
    await assert_tally_invariant(sessions, contest.id)
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent).where(ProviderEvent.order_id == order_id))).one()
    assert json.loads(event.body) == genuine and ":body-sha256" not in event.headers  # kept whole
    assert (await client.put(f"/payments/mtn/callback/{uuid.uuid4()}", json={})).status == 429  # the limit holds


async def test_a_flood_on_the_url_of_ones_own_order_is_kept_bounded_past_its_first_callbacks(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """Only MTN knows an order's callback secret; should MTN itself call back far more than it does, what
    comes after the first few callbacks is kept bounded. (Anyone else, who can place an order and
    learn its id, no longer gets in: see the next test.)"""
    await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    before = await events_size(sessions)
    gate = asyncio.Semaphore(20)
    headers = {**{name: secrets.token_hex(4000) for name in BIG_HEADERS}, "Content-Type": "application/json"}

    async def send() -> int:
        async with gate:
            return (await client.put(callback_path(client, order_id), data=big_body(), headers=headers)).status

    assert set(await asyncio.gather(*(send() for _ in range(300)))) == {200}  # never refused
    await client.app[CHECKS].wait_idle()
    grown = await events_size(sessions) - before
    async with sessions() as session:
        kept = list(await session.scalars(select(ProviderEvent).where(ProviderEvent.order_id == order_id)))
    whole = [event for event in kept if ":body-sha256" not in event.headers]
    # Each of a burst counts the order's events before the others are stored: 20 at a time, up to 19 more.
    assert len(kept) == 300 and WHOLE_EVENTS_PER_ORDER <= len(whole) < WHOLE_EVENTS_PER_ORDER + 20
    assert grown < 6 * MEGABYTE, f"provider_events grew by {grown} bytes"  # 40 MB kept whole


async def test_a_flood_without_the_secret_on_the_url_of_ones_own_order_is_refused_limited_and_bounded(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """The order's URL without its secret (or with a wrong one) is refused (400), counted against
    the sender's address like a callback about no order of ours, kept bounded, and asks MTN nothing."""
    await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    await inside_one_window()
    gate = asyncio.Semaphore(20)

    async def send(n: int) -> int:
        async with gate:
            path = callback_path(client, order_id, keyed=False) if n % 2 else callback_path(
                client, order_id, secret=secrets.token_urlsafe(16))
            return (await client.put(path, data=big_body(), headers={"Content-Type": "application/json"})).status

    statuses = await asyncio.gather(*(send(n) for n in range(60)))
    assert statuses.count(400) == UNTIED_LIMIT and statuses.count(429) == 60 - UNTIED_LIMIT
    await client.app[CHECKS].wait_idle()
    assert fake_mtn.status_calls == 0
    async with sessions() as session:
        kept = list(await session.scalars(select(ProviderEvent).where(ProviderEvent.order_id == order_id)))
    assert len(kept) == UNTIED_LIMIT
    assert all(event.outcome == "rejected:bad_callback_secret" and len(event.body) <= KEPT_BODY_BYTES
               for event in kept)


async def test_a_callback_keeps_its_headers_but_the_secrets_a_provider_names(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """Cookies and credentials are never kept with a provider event, nor the header a provider set up here
    sends its secret in (Stars: the bot's webhook secret), whichever provider's URL it came to."""
    await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=1)
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    headers = {"Cookie": "session=s", "X-Telegram-Bot-Api-Secret-Token": "bot-secret", "X-Request-Id": "r-1"}
    sent = await client.put(callback_path(client, order_id), headers=headers,
                            json={"status": "SUCCESSFUL", "financialTransactionId": "mtn-2"})
    assert sent.status == 200
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent).where(ProviderEvent.order_id == order_id))).one()
    assert event.headers["x-request-id"] == "r-1"
    assert not {"cookie", "x-telegram-bot-api-secret-token"} & set(event.headers)
