"""MTN MoMo's wire as respx sees it, and the steps a test takes through the app with it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import respx
from aiohttp.test_utils import TestClient

from assembly.settings import Settings
from assembly.web.keys import STARTS
from gateway.core.money import to_major_string
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import VoteOrder
from gateway.kit.keys import SETTINGS
from payments.mtn.callback_secret import QUERY_NAME, callback_key, order_secret


@dataclass
class FakeMtn:
    """MTN's wire as respx sees it: statuses we set per reference, calls it received."""

    statuses: dict[str, dict[str, object]] = field(default_factory=dict)
    status_calls: int = 0
    status_call_seconds: list[int] = field(default_factory=list)  # when each status call came (epoch second)
    asked: list[str] = field(default_factory=list)  # the reference of each status call, in order
    asked_at: list[float] = field(default_factory=list)  # when each status call came (monotonic clock), in order
    pay_calls: int = 0
    down: bool = False  # MTN answering 503 to every status GET, as it does for long stretches
    prompts_down: bool = False  # MTN answering 503 to every request-to-pay
    prompts_down_for: int = 0  # MTN answering 503 to this many request-to-pays first
    silent: bool = False  # MTN taking status GETs and never answering them (our client times out)
    prompts_held: asyncio.Event | None = None  # MTN slow to take a request-to-pay: answers once it is set
    prompts_unanswered: bool = False  # MTN takes a request-to-pay (the prompt is on the phone), no answer comes
    statuses_held: asyncio.Event | None = None  # MTN slow to answer a status GET: answers once it is set
    garbled: set[str] = field(default_factory=set)  # references whose status GET gets a proxy's HTML page, 200
    # References whose status answer says gzip but is not (a broken proxy): httpx cannot decode it, an
    # error no provider adapter expects.
    corrupt: set[str] = field(default_factory=set)

    async def status_of(self, request: httpx.Request) -> httpx.Response:
        self.status_calls += 1
        self.status_call_seconds.append(int(time.time()))
        self.asked.append(request.url.path.rsplit("/", 1)[-1])
        self.asked_at.append(time.monotonic())
        if self.statuses_held is not None:
            await self.statuses_held.wait()
        if self.silent:
            raise httpx.ReadTimeout("MTN did not answer in time", request=request)
        if self.down:
            return httpx.Response(503, json={"code": "SERVICE_UNAVAILABLE", "message": "try later"})
        reference = request.url.path.rsplit("/", 1)[-1]
        if reference in self.corrupt:
            return httpx.Response(200, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                                  stream=httpx.ByteStream(b'{"status": "SUCCESSFUL"}'))
        if reference in self.garbled:
            return httpx.Response(200, text="<html><body>Gateway welcome page</body></html>")
        if reference not in self.statuses:
            return httpx.Response(404, json={"code": "RESOURCE_NOT_FOUND", "message": "no such reference"})
        return httpx.Response(200, json=self.statuses[reference])

    async def request_to_pay(self, request: httpx.Request) -> httpx.Response:
        self.pay_calls += 1
        if self.pay_calls <= self.prompts_down_for:
            return httpx.Response(503, json={"code": "SERVICE_UNAVAILABLE", "message": "try later"})
        if self.prompts_held is not None:
            await self.prompts_held.wait()
        if self.prompts_down:
            return httpx.Response(503, json={"code": "SERVICE_UNAVAILABLE", "message": "try later"})
        reference = request.headers["X-Reference-Id"]
        if reference in self.statuses:
            return httpx.Response(409, json={"code": "RESOURCE_ALREADY_EXIST", "message": "dup"})
        body = json.loads(request.content)
        self.statuses[reference] = {"status": "PENDING", "amount": body["amount"], "currency": body["currency"]}
        if self.prompts_unanswered:
            raise httpx.ReadTimeout("MTN did not answer in time", request=request)
        return httpx.Response(202)

    def decide(self, reference: uuid.UUID, status: str, amount: str | None = None, reason: str | None = None) -> None:
        current = self.statuses[str(reference)]
        current.update(status=status, financialTransactionId="mtn-txn-1" if status == "SUCCESSFUL" else None)
        if amount is not None:
            current["amount"] = amount
        if reason:
            current["reason"] = reason


def faked_mtn(settings: Settings) -> Iterator[FakeMtn]:
    """respx routes for the MTN base URL the app uses in development (the sandbox's)."""
    fake = FakeMtn()
    base = f"{settings.sandbox_url}/mtn"
    with respx.mock(assert_all_called=False, using="httpx") as router:
        router.post(f"{base}/collection/token/").respond(
            200, json={"access_token": "t", "token_type": "access_token", "expires_in": 3600})
        router.post(f"{base}/collection/v1_0/requesttopay").mock(side_effect=fake.request_to_pay)
        router.get(url__regex=rf"{base}/collection/v1_0/requesttopay/.+").mock(side_effect=fake.status_of)
        yield fake


async def vote(client: TestClient, slug: str, quantity: int = 5, msisdn: str = "+237670000001") -> uuid.UUID:
    response = await client.post(f"/api/v1/contests/{slug}/votes",
                                 json={"candidate": "01", "quantity": quantity, "provider": "mtn", "msisdn": msisdn})
    assert response.status == 201, await response.text()
    order_id = uuid.UUID((await response.json())["order"]["id"])
    await client.app[STARTS].wait_idle()  # the prompt is pushed after the reply
    return order_id


async def callback(client: TestClient, order_id: object, body: dict[str, object], method: str = "PUT", *,
                   secret: str | None = None, keyed: bool = True) -> int:
    """MTN's callback on the URL we gave it for the order (with its secret: `keyed`), or with `secret`."""
    response = await client.request(method, callback_path(client, order_id, secret=secret, keyed=keyed), json=body)
    return response.status


def callback_path(client: TestClient, order_id: object, *, secret: str | None = None, keyed: bool = True) -> str:
    path = f"/payments/mtn/callback/{order_id}"
    if secret is None and keyed and isinstance(order_id, uuid.UUID):
        secret = order_secret(callback_key(client.app[SETTINGS].secret_key.get_secret_value()), order_id)
    return path if secret is None else f"{path}?{QUERY_NAME}={secret}"


def paid_body(order: VoteOrder, *, amount: str | None = None, status: str = "SUCCESSFUL") -> dict[str, object]:
    """What MTN's callback says of an order paid in full (amount in major units)."""
    return {"status": status, "externalId": str(order.id),
            "amount": amount or to_major_string(order.amount, order.currency),
            "currency": order.currency, "financialTransactionId": "mtn-cb-1"}


async def reference_of(sessions: Sessions, order_id: uuid.UUID) -> uuid.UUID:
    return (await tables.get_order(sessions, order_id)).payment_reference
