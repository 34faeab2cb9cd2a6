"""SQL-like, oversized, NUL-laden, badly encoded and deeply nested input on every public route: a clear
4xx (or a polite USSD END), no 500, and nothing written."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, text

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, ProviderEvent, VoteOrder
from gateway.kit.keys import CHECKS
from tests.channels.web.contest_form import open_form
from tests.factories import make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback_path, vote

SQLISH = "1' OR '1'='1'; DROP TABLE vote_orders; --"
HUGE = b"x" * 200_000
ZERO_ID = "00000000-0000-0000-0000-000000000000"
# Every route the app serves, as it registers them (a new route fails
# test_every_route_the_app_serves_is_probed until it is listed here, and so probed).
GET_ROUTES = [
    "/", "/healthz", "/readyz", "/metrics", "/static/{name}", "/api/v1/openapi.json", "/api/v1/contests",
    "/api/v1/contests/{slug}", "/api/v1/contests/{slug}/leaderboard", "/api/v1/contests/{slug}/leaderboard/stream",
    "/api/v1/orders/{order_id}", "/c/{slug}", "/c/{slug}/board", "/c/{slug}/vote", "/orders/{order_id}",
    "/orders/{order_id}/status",
    # Results anyone can check
    "/verify", "/api/v1/receipts/{reference}", "/api/v1/results-key", "/.well-known/ballot-results-key",
    "/c/{slug}/results.csv", "/c/{slug}/results.csv.sig",
    "/c/{slug}/rounds/{number}/results.csv", "/c/{slug}/rounds/{number}/results.csv.sig",
    # A free vote on the web: the number proven by a texted code
    "/c/{slug}/free-vote", "/api/v1/contests/{slug}/free-votes/challenge",
    # Entering a video contest
    "/c/{slug}/enter", "/entries/{entry_id}", "/api/v1/entries/{entry_id}", "/api/v1/contests/{slug}/entries/challenge",
    # A candidate's page and its short link
    "/c/{slug}/{code}", "/s/{short}",
    # The broadcast overlay
    "/c/{slug}/overlay",
    # What became of an SMS (`gateway sms` reads it, with the callbacks' token)
    "/sms/africastalking/inbound/{at_id}",
]
POST_ROUTES = ["/api/v1/contests/{slug}/votes", "/c/{slug}/vote", "/ussd/africastalking", "/ussd/africastalking/events",
               "/payments/mtn/callback/{order_id}", "/payments/mtn/disbursement/{reference}",
               "/payments/orange/notify/{order_id}", "/payments/stripe/webhook",
               "/payments/mpesa/callback/{order_id}", "/payments/mpesa/result/{reference}",
               "/payments/mpesa/timeout/{reference}", "/payments/mpesa/status/{reference}", "/payments/airtel/callback",
               "/payments/ke-mobile/callback/{order_id}", "/payments/ke-mobile/result/{reference}",
               "/payments/ke-mobile/timeout/{reference}", "/payments/ke-mobile/status/{reference}",
               "/payments/ke-mobile/c2b/validation/{paybill}", "/payments/ke-mobile/c2b/confirmation/{paybill}",
               "/orders/{order_id}/prompt-again",
               "/sms/africastalking/inbound", "/sms/africastalking/delivery", "/telegram/webhook",
               "/api/v1/contests/{slug}/entries/code", "/api/v1/contests/{slug}/entries/proof",
               "/api/v1/contests/{slug}/entries/uploads", "/api/v1/contests/{slug}/entries",
               "/api/v1/entries/{entry_id}/uploads", "/entries/{entry_id}/fee",
               "/api/v1/contests/{slug}/free-votes/code", "/api/v1/contests/{slug}/free-votes/proof",
               "/api/v1/contests/{slug}/free-votes"]
PUT_ROUTES = ["/payments/mtn/callback/{order_id}", "/payments/mtn/disbursement/{reference}",
              "/api/v1/entries/{entry_id}/clip"]
# Admin area: its routes are listed and probed in tests/admin/test_hostile_admin.py.
ADMIN_PREFIXES = ("/admin", "/api/v1/admin/", "/photos/")
HOSTILE_PARAMS = {"slug": SQLISH, "order_id": SQLISH, "reference": SQLISH, "entry_id": SQLISH, "code": SQLISH,
                  "short": SQLISH, "name": SQLISH, "at_id": SQLISH, "paybill": SQLISH, "number": SQLISH}
GETS = [
    *(route.format(**HOSTILE_PARAMS) + f"?q={quote(SQLISH)}" for route in GET_ROUTES),
    f"/verify?reference={quote(SQLISH)}", "/verify?reference=%00", "/api/v1/receipts/%00",
    f"/static/{SQLISH}", "/static/..%2F..%2Fgateway%2Fconfig.py", f"/api/v1/contests?slug={quote(SQLISH)}",
    f"/api/v1/contests/gala/leaderboard/stream?last_event_id={SQLISH}",
    "/c/%00", "/api/v1/contests/%00", "/api/v1/contests/g%00/leaderboard", "/api/v1/orders/%00", "/orders/%C0%80",
    "/api/v1/contests/%ED%A0%80", "/api/v1/contests/gala/leaderboard/stream?last_event_id=%00",
]
POSTS = [route.format(slug="gala", order_id=ZERO_ID, entry_id=ZERO_ID, reference=ZERO_ID, paybill="174379")
         for route in POST_ROUTES]
WRITES = [*(("POST", route.format(**HOSTILE_PARAMS)) for route in POST_ROUTES),
          *(("PUT", route.format(**HOSTILE_PARAMS)) for route in PUT_ROUTES),
          ("PUT", f"/payments/mtn/callback/{ZERO_ID}")]
# Answered to programs (the JSON API, providers, Africa's Talking's session events): an error is JSON.
JSON_ANSWERS = ("/api/", "/payments/", "/ussd/africastalking/events", "/healthz", "/readyz", "/telegram/", "/sms/")


def test_every_route_the_app_serves_is_probed(settings: Settings) -> None:
    served = {(route.method, route.resource.canonical) for route in create_app(settings).router.routes()
              if route.method != "HEAD" and route.resource is not None
              and not route.resource.canonical.startswith(ADMIN_PREFIXES)}
    probed = {*(("GET", r) for r in GET_ROUTES), *(("POST", r) for r in POST_ROUTES), *(("PUT", r) for r in PUT_ROUTES)}
    assert served == probed


async def assert_clean_answer(response: ClientResponse, path: str) -> None:
    """Not a 500; and where a program reads the answer, an error it can read: JSON with a code."""
    assert response.status < 500, await response.text()
    if response.status >= 400 and path.startswith(JSON_ANSWERS):
        assert response.content_type == "application/json", (path, response.content_type)
        assert (await response.json())["error"]["code"], path


async def counts(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        orders = await session.scalar(select(func.count()).select_from(VoteOrder))
        contests = await session.scalar(select(func.count()).select_from(Contest))
    return int(orders or 0), int(contests or 0)


@pytest.mark.parametrize("path", GETS)
async def test_sql_like_paths_are_a_clean_answer(client: TestClient, sessions: Sessions, path: str) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.get(path, timeout=5)
    await assert_clean_answer(response, path)
    if response.status == 200 and "stream" in path:  # the stream answers with the board, the SQL-like id ignored
        assert response.content_type == "text/event-stream"
        # The first frame read before hanging up: the server has finished reading the board (a stream
        # torn down in the middle of its database read would leave the connection to the collector).
        async with asyncio.timeout(5):
            while await response.content.readline() not in (b"\n", b""):
                pass
        response.close()
    assert await counts(sessions) == (0, 1)


@pytest.mark.parametrize("path", POSTS)
async def test_oversized_bodies_are_refused(client: TestClient, sessions: Sessions, path: str) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.post(path, data=HUGE, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 413
    await assert_clean_answer(response, path)
    assert await counts(sessions) == (0, 1)


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("body", ["sql-like", "oversized"])
async def test_sql_like_addresses_and_oversized_bodies_on_every_write_change_nothing(
        client: TestClient, sessions: Sessions, method: str, path: str, body: str) -> None:
    await make_contest(sessions, slug="gala", ussd_service_codes=["*384*999#"])
    data = HUGE if body == "oversized" else json.dumps({"status": "SUCCESSFUL", "text": SQLISH}).encode()
    response = await client.request(method, path, data=data, headers={"Content-Type": "application/json"})
    await assert_clean_answer(response, path)
    assert (400 <= response.status < 500) if body == "oversized" else response.status < 500, response.status
    await client.app[CHECKS].wait_idle()
    assert await counts(sessions) == (0, 1)
    async with sessions() as session:  # a callback is kept raw, as what it is: about no order of ours
        kept = list(await session.scalars(select(ProviderEvent.outcome)))
    assert all(outcome in ("unknown_order", "ignored") or outcome.startswith("rejected:") for outcome in kept), kept


async def test_sql_like_ussd_input_is_a_polite_screen(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala", ussd_service_codes=["*384*999#"])
    form = {"sessionId": "s-1", "serviceCode": "*384*999#", "phoneNumber": "+237670000001", "networkCode": "62401",
            "text": f"1*{SQLISH}"}
    response = await client.post("/ussd/africastalking", data=form)
    assert response.status == 200
    assert (await response.text()).startswith(("CON ", "END "))
    assert await counts(sessions) == (0, 1)


async def test_sql_like_vote_fields_are_refused(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    for body in ({"candidate": SQLISH, "quantity": 1, "provider": "mtn", "msisdn": "+237670000001"},
                 {"candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": SQLISH},
                 {"candidate": "01", "quantity": 1, "provider": SQLISH, "msisdn": "+237670000001"}):
        response = await client.post("/api/v1/contests/gala/votes", json=body)
        assert response.status == 422 and (await response.json())["error"]["field"]
    assert await counts(sessions) == (0, 1)


async def test_sql_like_fields_on_the_vote_form_are_refused(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    hidden = await open_form(client, "gala")
    for field in ("candidate", "quantity", "provider", "msisdn"):
        form = {"candidate": "01", "quantity": "1", "provider": "mtn", "msisdn": "+237670000001", **hidden,
                field: SQLISH}
        response = await client.post("/c/gala/vote", data=form, allow_redirects=False)
        assert 400 <= response.status < 500, field  # the form again, with the field's problem
    assert await counts(sessions) == (0, 1)


async def test_sql_like_callbacks_and_session_events_change_nothing(
    client: TestClient, sessions: Sessions, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=2)
    answers = [
        await client.put(callback_path(client, order_id), json={"status": SQLISH, "externalId": SQLISH}),
        await client.post(f"/payments/orange/notify/{order_id}", json={"status": "SUCCESS", "notif_token": SQLISH}),
        await client.post("/payments/stripe/webhook", data=SQLISH, headers={"Stripe-Signature": SQLISH}),
        await client.post("/ussd/africastalking/events", data={
            "sessionId": SQLISH, "phoneNumber": "+237670000001", "status": "Failed' OR '1'='1",
            "errorMessage": SQLISH}),
    ]
    assert [answer.status for answer in answers] == [200, 400, 400, 400]
    # (an Orange notification naming an order that is not Orange's; Stripe is not set up in this app;
    # a session id Africa's Talking would never send)
    assert [(await answer.json())["error"]["code"] for answer in answers[1:3]] == ["unknown_order",
                                                                                  "provider_unavailable"]
    await client.app[CHECKS].wait_idle()
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PENDING
    assert sum((await tallies(sessions, contest.id)).values()) == 0
    assert await counts(sessions) == (1, 1)
    async with sessions() as session:
        bodies = list(await session.scalars(select(ProviderEvent.body).order_by(ProviderEvent.id)))
    assert len(bodies) == 3 and all(SQLISH in body for body in bodies)  # kept, verbatim, as data
    async with sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM ussd_session_events")) == 0


NASTY_BODIES = {
    "nul in json": b'{"status": "SUCCESSFUL\\u0000", "candidate": "0\\u00001", "notif_token": "\\u0000",'
                   b' "x": "\\ud800"}',
    "nul bytes": b"sessionId=s-1&serviceCode=*384*999%23&phoneNumber=%2B237670000001&status=Failed&text=1%00"
                 b"&errorMessage=%00\x00&notif_token=%00",
    "not utf-8": b'{"status": "\xff\xfe", "sessionId": "\xc3\x28"}',
    "deep json": b"[" * 20_000 + b"]" * 20_000,  # under the body limit (413 above it)
    "deep object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
}


@pytest.mark.parametrize("path", [*POSTS, "/api/v1/contests/%00/votes", "/c/ga%00la/vote"])
@pytest.mark.parametrize("kind", NASTY_BODIES)
async def test_control_characters_broken_encodings_and_deep_nesting_are_a_clean_answer(
        client: TestClient, sessions: Sessions, path: str, kind: str) -> None:
    await make_contest(sessions, slug="gala", ussd_service_codes=["*384*999#"])
    content_type = "application/x-www-form-urlencoded" if kind == "nul bytes" else "application/json"
    response = await client.post(path, data=NASTY_BODIES[kind], headers={"Content-Type": content_type})
    assert response.status != 413
    await assert_clean_answer(response, path)
    await client.app[CHECKS].wait_idle()
    assert await counts(sessions) == (0, 1)


@pytest.mark.parametrize("path", POSTS)
async def test_header_bytes_that_are_not_utf8_are_a_clean_answer(client: TestClient, sessions: Sessions,
                                                                 path: str) -> None:
    await make_contest(sessions, slug="gala")
    body = b'{"candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "+237670000001"}'
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
                 + b"Idempotency-Key: k\xff\xfe\xc3\x28\r\nX-Stuff: \xff\r\n"
                 + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    status_line = await reader.readline()
    writer.close()
    status = int(status_line.split()[1])
    assert status < 500, status_line + await reader.read()
    await client.app[CHECKS].wait_idle()
    assert await counts(sessions) == (0, 1)
