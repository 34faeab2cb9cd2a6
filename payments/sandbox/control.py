"""What the MTN and Orange sandboxes share: the switches tests and support staff flip (`SandboxControl`,
also served at `/_control`), outcome timing, callback delivery and the 5xx/slowness gate.

Everything here is plain data and functions except `Dispatcher` and the aiohttp glue at the bottom."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Annotated, Any, Literal

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict  # pydantic needs this one on Python 3.11

log = logging.getLogger(__name__)

CallbackMethod = Literal["PUT", "POST"]
WebPayOutcome = Literal["SUCCESS", "FAILED"]
FailStatus = Literal[500, 503]
HTTP_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")
CONTROL_ROUTE = "control"  # routes with this name are never slowed down or failed by the gate


@dataclass
class SandboxControl:
    """The sandboxes' behaviour switches. Mutable on purpose: one instance may be shared by both apps, and
    tests or `/_control` change it while the sandbox runs. Delays and `drop_callbacks` are read when a payment
    is accepted, `duplicate_callbacks` and `callback_method` when its callback is due."""

    success_delay: float = 1.0  # seconds until an ordinary payment (and a scheduled failure) is decided
    long_delay: float = 20.0  # seconds until a "delayed" magic number succeeds
    answer_delay: float = 0.0  # every API answer waits this long first
    fail_next: int = 0  # the next N API requests answer `fail_status` (a 5xx burst)
    fail_status: FailStatus = 503
    # The next N API requests are carried out, then their connection drops before the answer: the client
    # cannot tell whether it took effect (a page created, a prompt sent) and must not assume either way.
    lose_answers: int = 0
    duplicate_callbacks: int = 1  # each callback is sent N times, concurrently
    drop_callbacks: bool = False  # payments accepted meanwhile are decided but never called back (lost callbacks)
    callback_method: CallbackMethod = "PUT"  # MTN's callback method; Orange always POSTs
    token_lifetime: float | None = None  # seconds; None means each provider's real default
    reject_credentials: bool = False  # token endpoints refuse every credential
    webpay_auto_outcome: WebPayOutcome | None = None  # WebPay decides by itself after success_delay; None: payer
    webpay_expiry: float = 600.0  # an undecided WebPay payment turns EXPIRED after this (no notification)
    token_generation: int = 0  # bumped by `expire_tokens()`; tokens of older generations answer 401
    status_calls_per_second: float | None = None  # MTN status GETs over this a second answer 429 (real MTN: 10)
    # An Orange application's requests (every API together) over this a second answer 403, code 53 (real Orange: 25)
    orange_requests_per_second: float | None = None
    # This share of API requests answer 429, as a provider does whose rate cap is below our traffic (MTN's API
    # management in front of every call, not only the status GETs): 0.5 is every second request.
    throttle_share: float = 0.0
    # This share of MTN's requests to pay (those whose payer number asks for no particular outcome) are declined
    # (FAILED, INTERNAL_PROCESSING_ERROR) after success_delay: a provider that answers 2xx and decides every payment
    # against the payer, as during an outage of its wallets behind a healthy API. 1.0 declines them all.
    decline_share: float = 0.0
    # M-Pesa's money out: the next N reversals or B2C payments time out in Daraja's queue (not carried out, its
    # QueueTimeOutURL told), and whether results are posted to the QueueTimeOutURL instead of the ResultURL.
    mpesa_time_out_next: int = 0
    mpesa_results_on_time_out_url: bool = False
    # The next N reversals or B2C payments are carried out but their Result is never posted (found only by
    # Daraja's Transaction Status query).
    mpesa_lose_results_next: int = 0
    # The next N B2C payments are taken in (and carried out) but their answer is lost on the way: a 503 comes back,
    # as from a gateway that gave up waiting.
    mpesa_lose_answers_next: int = 0
    # A B2C payment sent again under its OriginatorConversationID is paid again: that Daraja takes each once is not
    # written down by Safaricom, so a client must never count on it.
    mpesa_pays_repeats: bool = False

    def __post_init__(self) -> None:
        self._throttle_owed = 0.0
        self._decline_owed = 0.0
        # API requests waiting out `answer_delay` now: arrived, carried out only once it has passed. Not a switch.
        self.answers_held = 0

    def take_throttled(self) -> bool:
        """Count one request against `throttle_share`; True when it must answer 429. Spread evenly rather than
        drawn at random, so that a run's share is exact and a test knows which requests are refused."""
        refused, self._throttle_owed = evenly(self.throttle_share, self._throttle_owed)
        return refused

    def take_declined(self) -> bool:
        """Count one payment against `decline_share`; True when it must be declined (spread as the throttle is)."""
        declined, self._decline_owed = evenly(self.decline_share, self._decline_owed)
        return declined

    def take_failure(self) -> bool:
        """Consume one request of a 5xx burst; True when this request must fail."""
        if self.fail_next <= 0:
            return False
        self.fail_next -= 1
        return True

    def take_lost_answer(self) -> bool:
        """Consume one of `lose_answers`; True when this request's answer must be lost."""
        if self.lose_answers <= 0:
            return False
        self.lose_answers -= 1
        return True

    def expire_tokens(self) -> None:
        """Every token issued so far answers 401 from now on, so a client's refresh-on-401 can be exercised."""
        self.token_generation += 1

    def reset(self) -> None:
        """Back to the defaults; the token generation only ever moves forward."""
        for spec in fields(self):
            if spec.name != "token_generation":
                setattr(self, spec.name, spec.default)
        self._throttle_owed = self._decline_owed = 0.0

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)


def evenly(share: float, owed: float) -> tuple[bool, float]:
    """One more event against `share` of them, given what is `owed` so far: whether this one is taken, and what is
    owed after it (every 1/share-th is taken, none at random)."""
    if share <= 0:
        return False, owed
    owed += share
    if owed < 1:
        return False, owed
    return True, owed - 1


Seconds = Annotated[float, Field(ge=0, le=86_400)]


@with_config(ConfigDict(extra="forbid", strict=True))
class ControlUpdate(TypedDict, total=False):
    """A partial update of `SandboxControl` (JSON body of `POST /_control`); `reset` and `expire_tokens`
    are actions applied first. A TypedDict, so an explicit null is refused where null means nothing."""

    reset: bool
    expire_tokens: bool
    success_delay: Seconds
    long_delay: Seconds
    answer_delay: Annotated[float, Field(ge=0, le=300)]
    fail_next: Annotated[int, Field(ge=0, le=10_000)]
    fail_status: FailStatus
    lose_answers: Annotated[int, Field(ge=0, le=10_000)]
    duplicate_callbacks: Annotated[int, Field(ge=1, le=20)]
    drop_callbacks: bool
    callback_method: CallbackMethod
    token_lifetime: Annotated[float, Field(gt=0, le=100_000_000)] | None
    reject_credentials: bool
    webpay_auto_outcome: WebPayOutcome | None
    webpay_expiry: Seconds
    status_calls_per_second: Annotated[float, Field(gt=0, le=100_000)] | None
    orange_requests_per_second: Annotated[float, Field(gt=0, le=100_000)] | None
    throttle_share: Annotated[float, Field(ge=0, le=1)]
    decline_share: Annotated[float, Field(ge=0, le=1)]
    mpesa_time_out_next: Annotated[int, Field(ge=0, le=10_000)]
    mpesa_results_on_time_out_url: bool
    mpesa_lose_results_next: Annotated[int, Field(ge=0, le=10_000)]
    mpesa_lose_answers_next: Annotated[int, Field(ge=0, le=10_000)]
    mpesa_pays_repeats: bool


CONTROL_UPDATE: TypeAdapter[ControlUpdate] = TypeAdapter(ControlUpdate)


def apply_update(control: SandboxControl, update: ControlUpdate) -> None:
    """Apply a validated partial update: actions first, then the given fields."""
    changes = dict(update)
    if changes.pop("reset", False):
        control.reset()
    if changes.pop("expire_tokens", False):
        control.expire_tokens()
    for name, value in changes.items():
        setattr(control, name, value)


# --- outcomes and their timing -------------------------------------------------------------------------------


class Delay(StrEnum):
    """When a planned outcome takes effect, relative to the payment's creation."""

    SHORT = "short"  # after control.success_delay
    LONG = "long"  # after control.long_delay
    NEVER = "never"  # stays pending forever


@dataclass(frozen=True)
class Plan:
    """The outcome a magic payer number asks for: final status, provider reason/message, and when."""

    status: str
    reason: str | None
    delay: Delay


def due_time(delay: Delay, created_at: float, control: SandboxControl) -> float | None:
    """The (loop) time at which the outcome takes effect; None for never."""
    if delay is Delay.NEVER:
        return None
    return created_at + (control.success_delay if delay is Delay.SHORT else control.long_delay)


def is_due(due_at: float | None, now: float) -> bool:
    return due_at is not None and now >= due_at


def whole_seconds(seconds: float) -> int:
    """An `expires_in` as providers write it: whole seconds, never 0 for a short test lifetime."""
    return max(1, math.ceil(seconds))


def loop_time() -> float:
    """Monotonic clock of the running loop; every timestamp in the sandboxes uses it."""
    return asyncio.get_running_loop().time()


def new_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def without_query(url: str) -> str:
    """A callback URL as logged: its query may hold a per-order secret (our MTN callbacks), never logged."""
    return url.split("?", 1)[0]


def is_http_url(value: str) -> bool:
    return HTTP_URL.fullmatch(value) is not None


def first_error(error: ValidationError) -> tuple[str, str]:
    """(field, message) of a validation error's first problem, for providers' one-line error messages."""
    problem = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return where, problem["msg"]


# --- callbacks -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One callback to send: built when it is due, so it carries the state of that moment."""

    method: str
    url: str
    body: dict[str, Any]


class Dispatcher:
    """Sends provider callbacks from background tasks the app owns, so shutdown can cancel them cleanly.
    One attempt per copy and no retries: the worse case of what providers document."""

    def __init__(self, control: SandboxControl) -> None:
        self._control = control
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def open(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    def schedule(self, at: float, build: Callable[[], Notice | None]) -> None:
        """At loop time `at`, build the notice (None: nothing to send any more) and deliver it. Whether it is
        dropped is settled now, when the payment is accepted; how many copies go out, when it is sent."""
        task = asyncio.create_task(self._run(at, build, drop=self._control.drop_callbacks))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, at: float, build: Callable[[], Notice | None], drop: bool) -> None:
        # Until `at` by the loop's own clock, which the notice's outcome is read by: a timer may fire before it
        # (uvloop's count whole milliseconds against a clock read once a turn: 4 wakes in 10 early), and a notice
        # built then would carry PENDING.
        while (left := at - loop_time()) > 0:
            await asyncio.sleep(left)
        notice = build()
        if notice is None or drop:
            if notice is not None:
                log.info("sandbox callback to %s dropped on purpose", notice.url)
            return
        await asyncio.gather(*(self._send(notice) for _ in range(self._control.duplicate_callbacks)))

    async def _send(self, notice: Notice) -> None:
        if self._session is None:
            raise RuntimeError("Dispatcher used before its app started")
        try:
            async with self._session.request(notice.method, notice.url, json=notice.body) as response:
                await response.read()
                log.info("sandbox callback %s %s -> %s", notice.method, without_query(notice.url), response.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("sandbox callback %s %s failed: %r", notice.method, without_query(notice.url), error)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._session = None


# --- aiohttp glue --------------------------------------------------------------------------------------------

CONTROL = web.AppKey("sandbox_control", SandboxControl)
DISPATCHER = web.AppKey("sandbox_dispatcher", Dispatcher)


async def dispatcher_ctx(app: web.Application) -> AsyncIterator[None]:
    """The callback client lives as long as the app; pending callbacks are cancelled on shutdown."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        app[DISPATCHER].open(session)
        yield
        await app[DISPATCHER].close()


def install(app: web.Application, control: SandboxControl) -> None:
    """Give a sandbox app its control, its callback dispatcher and the `/_control` endpoints."""
    app[CONTROL] = control
    app[DISPATCHER] = Dispatcher(control)
    app.cleanup_ctx.append(dispatcher_ctx)
    add_control_routes(app)


def provider_app(failure: Callable[[int], web.Response], control: SandboxControl | None,
                 routes: Iterable[web.RouteDef], *, before: Sequence[Middleware] = ()) -> web.Application:
    """A provider's sandbox app: its `routes` behind the gate (`failure`: the provider's own error body) and any
    middleware of its own `before` it, steered by `control` (pass a shared one to steer it with the others)."""
    app = web.Application(middlewares=[*before, gate(failure)])
    install(app, control or SandboxControl())
    app.add_routes(routes)
    return app


def add_control_routes(app: web.Application) -> None:
    resource = app.router.add_resource("/_control", name=CONTROL_ROUTE)
    resource.add_route("GET", get_control)
    resource.add_route("POST", post_control)


async def get_control(request: web.Request) -> web.Response:
    return web.json_response(request.app[CONTROL].snapshot())


async def post_control(request: web.Request) -> web.Response:
    """Change switches of a running sandbox: `{"fail_next": 3}`, `{"expire_tokens": true}`, `{"reset": true}`."""
    try:
        update = CONTROL_UPDATE.validate_json(await request.read())
    except ValidationError as error:
        detail = json.loads(error.json(include_url=False))
        return web.json_response({"error": "invalid_control", "detail": detail}, status=400)
    control = request.app[CONTROL]
    apply_update(control, update)
    log.info("sandbox control changed: %s", update)
    return web.json_response(control.snapshot())


def gate(failure: Callable[[int], web.Response]) -> Middleware:
    """Middleware for a provider app: slow every answer by `answer_delay`, refuse `throttle_share` of the requests
    with the provider's own 429 (`failure(429)`), then fail the next `fail_next` requests with its own 5xx body, and
    drop the connection of the next `lose_answers` ones once they are carried out. `/_control` and unmatched paths
    are left alone."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        if request.match_info.http_exception is not None or route.name == CONTROL_ROUTE:
            return await handler(request)
        control = request.app[CONTROL]
        if control.answer_delay > 0:
            control.answers_held += 1
            try:
                await asyncio.sleep(control.answer_delay)
            finally:
                control.answers_held -= 1
        if control.take_throttled():
            return failure(429)
        if control.take_failure():
            return failure(control.fail_status)
        response = await handler(request)
        if control.take_lost_answer() and request.transport is not None:
            request.transport.close()  # done here, but the client never hears of it
        return response

    return middleware

