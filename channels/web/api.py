"""The public JSON API (`/api/v1`): contests, placing a paid vote, and following its order."""

from __future__ import annotations

import json
import re
import uuid

from aiohttp import web
from pydantic import BaseModel, ValidationError

from channels.web import openapi, vote_limits
from channels.web.i18n import Translator, from_accept_language
from channels.web.market_texts import TAKES_CODES, contest_takes
from channels.web.schemas import (
    CandidateOut,
    ContestDetailOut,
    ContestOut,
    NextStep,
    OrderOut,
    VoteCreatedOut,
    VoteRequest,
)
from gateway.core.contests.catalog import VoterOrder
from gateway.core.errors import DomainError, NotFound, VoteRejected
from gateway.core.money_in.starting import StartOutcome
from gateway.core.orders import placing
from gateway.core.providers import Approval, Capability, Providers
from gateway.core.service import VOTE_SERVICE
from gateway.core.texts import LANGUAGES
from gateway.db.models import OrderStatus
from gateway.kit import throttle
from gateway.kit.keys import PROVIDERS

IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,128}")  # a UUID or the like; also what PostgreSQL can keep

routes = web.RouteTableDef()


class InvalidRequest(DomainError):
    status = 422
    code = "invalid_request"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


def require_json(request: web.Request) -> None:
    """Bodies are read only as `application/json`: a cross-site form can post `text/plain` (and form
    encodings) without the browser asking us first, never JSON."""
    if request.content_type.lower() != "application/json":  # parameters such as charset are fine
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.",
                                   field="Content-Type")


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(text=model.model_dump_json(), status=status, content_type="application/json")


async def parse_vote_request(request: web.Request) -> VoteRequest:
    """Parse and validate the body; the first problem is named with its field."""
    raw = await request.read()  # a body over the size limit is a 413 whatever its type
    require_json(request)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested past the parser's depth
        raise DomainError("The body must be a JSON object.", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise DomainError("The body must be a JSON object.", code="invalid_json")
    try:
        vote = VoteRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidRequest(f"{field}: {first['msg']}" if field else first["msg"], field=field) from exc
    payable = web_payable(request.app[PROVIDERS])
    if vote.provider not in payable:
        raise InvalidRequest(f"provider: one of {', '.join(payable)}.", field="provider")
    return vote


def web_payable(providers: Providers) -> tuple[str, ...]:
    """The providers a vote on the web may be paid by: any the service knows but those paid in a chat (Stars are
    sold in the bot)."""
    return tuple(name for name in providers.names() if Capability.IN_CHAT not in providers.capabilities(name))


def api_language(request: web.Request) -> str:
    """The language of the API's words for people: `?lang=`, else the client's Accept-Language, else English. Not
    the pages' cookie: a program's requests carry a browser's cookie only by accident."""
    asked = request.query.get("lang", "").lower()
    if asked in LANGUAGES:
        return asked
    return from_accept_language(request.headers.get("Accept-Language", "")) or "en"


def next_step(order: VoterOrder, started: StartOutcome | None, approval: Approval, provider: str,
              tr: Translator) -> NextStep:
    """What the voter must do now, in the client's language (`tr`): enter the PIN on the prompt or approve it (as the
    provider's payers approve its prompts: `approval`; `provider` its label), or pay on the provider's page."""
    if started is not None and started.redirect_url:
        return NextStep(action="redirect", message=tr("api_next_redirect"), url=started.redirect_url)
    amount = tr.money(order.amount, order.currency)
    if approval is Approval.PIN_PROMPT:
        return NextStep(action="approve_on_phone", approval=approval,
                        message=tr("api_next_pin", provider=provider, amount=amount))
    return NextStep(action="approve_on_phone", approval=approval, message=tr("api_next_approve", amount=amount))


@routes.get("/api/v1/contests")
async def list_contests(request: web.Request) -> web.Response:
    contests = await request.app[VOTE_SERVICE].public_contests(channel_fields=True)
    body = {"contests": [ContestOut.of(c).model_dump(mode="json") for c in contests]}
    return web.json_response(body)


@routes.get("/api/v1/contests/{slug}")
async def show_contest(request: web.Request) -> web.Response:
    contest = await request.app[VOTE_SERVICE].contest(request.match_info["slug"], channel_fields=True, clips=True)
    base = ContestOut.of(contest).model_dump()
    return _json(ContestDetailOut(**base, candidates=[CandidateOut.of(c) for c in contest.candidates]))


def api_client_key(request: web.Request, key: str | None, msisdn: str | None) -> str | None:
    """The client's Idempotency-Key for this contest. The core scopes it to the payer's number; a vote
    with none (a card) is scoped to the client's address instead, or another client reusing a key
    would read this order and its payment page."""
    if key is None:
        return None
    scope = "" if msisdn else f"addr:{throttle.client_address(request)}:"
    return f"web:{request.match_info['slug']}:{scope}{key}"


@routes.post("/api/v1/contests/{slug}/votes")
async def place_vote(request: web.Request) -> web.Response:
    body = await parse_vote_request(request)
    service = request.app[VOTE_SERVICE]
    # A number as the contest's voters write it (`0712 000 102` on a Kenyan contest), in E.164 from here on.
    msisdn = await service.payer_number(request.match_info["slug"], body.msisdn)
    await vote_limits.enforce(request, msisdn=msisdn, browser=None)  # the API has no browser of ours
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidRequest("Idempotency-Key must be 1 to 128 printable ASCII characters.", field="Idempotency-Key")
    try:
        placed = await service.place_vote(
            placing.OrderRequest(
                contest_slug=request.match_info["slug"], candidate_code=body.candidate, quantity=body.quantity,
                provider=body.provider, channel="web", msisdn=msisdn,
                client_key=api_client_key(request, key, msisdn), voter_address=throttle.client_address(request),
            ),
            wait_for_room=True,
        )
    except VoteRejected as exc:
        if exc.code not in TAKES_CODES:
            raise
        raise await provider_refusal(request, exc) from exc
    order, started = placed.order, placed.started
    if started is not None and started.status is OrderStatus.FAILED:
        raise VoteRejected(started.message or "The payment could not be started.", code="payment_refused")
    if key is None:  # a new order: its labels are the request's
        out = OrderOut.of(order)
    else:  # maybe a replay of an earlier request: answer with that order's own labels
        out = OrderOut.of(await service.order(order.id))
    way = service.approval(order.provider), request.app[PROVIDERS].label(order.provider)
    created = VoteCreatedOut(order=out, next=next_step(order, started, *way, Translator(api_language(request))))
    return _json(created, status=201)


async def provider_refusal(request: web.Request, refused: VoteRejected) -> VoteRejected:
    """A provider the contest does not take: the refusal names what it takes (in the client's Accept-Language, else
    English, the API's), which retrying never changes."""
    contest = await request.app[VOTE_SERVICE].contest(request.match_info["slug"])
    tr = Translator(api_language(request))
    return VoteRejected(contest_takes(tr, contest, request.app[PROVIDERS]), code=refused.code, field=refused.field)


@routes.get("/api/v1/orders/{order_id}")
async def show_order(request: web.Request) -> web.Response:
    try:
        order_id = uuid.UUID(request.match_info["order_id"])
    except ValueError as exc:
        raise NotFound("No vote order has that id.", code="order_not_found") from exc
    return _json(OrderOut.of(await request.app[VOTE_SERVICE].order(order_id)))


def setup(app: web.Application) -> None:
    app.add_routes(routes)
    openapi.setup(app)
