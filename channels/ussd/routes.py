"""Africa's Talking USSD: each hop is answered from the whole `text` path in milliseconds; the only
write in a request is the order insert (the payment prompt is pushed a moment after the reply)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Collection
from datetime import UTC, datetime

from aiohttp import web
from redis.exceptions import RedisError

from channels.phone.callers import check_at_token
from channels.phone.texts import provider_label
from channels.ussd import free_votes, store
from channels.ussd.dialled import contest_ids_dialled
from channels.ussd.forms import Hit, InvalidForm, parse_hit, parse_session_end
from channels.ussd.menu import MenuContext, Position, Screen, parse_path, walk
from channels.ussd.screens import (
    Reply,
    TakeFreeVote,
    blocked,
    placed,
    refusal,
    render,
    service_unavailable,
    takes,
    unknown_service,
)
from channels.ussd.session import Recalled, SessionRecord, SessionStore
from channels.ussd.settings import UssdSettings, ussd_token_usable
from channels.ussd.views import (
    BoardMode,
    Extras,
    MenuContest,
    PayOption,
    TopEntry,
    build_view,
    open_views,
    why_unavailable,
)
from gateway.core.contests.catalog import PublicContest
from gateway.core.errors import DomainError
from gateway.core.market import of_country
from gateway.core.orders import placing
from gateway.core.providers import Capability
from gateway.core.service import VOTE_SERVICE
from gateway.core.texts import Lang
from gateway.kit.keys import PHONE_WALLETS, PROVIDERS, REDIS, SESSIONS, settings_of
from gateway.kit.phone_wallets import PhoneWallets
from gateway.kit.throttle import enforce_untied_limit

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CANCELLING_STATUSES = frozenset({"incomplete", "failed"})
REPLAY_WAIT_SECONDS = 3.0
# A vote's wait for a PostgreSQL primary during a failover: a hop's answer is due within Africa's Talking's few seconds,
# so it ends with the "try again" screen instead (an order kept after all is cancelled at the session's end unless
# its prompt went out).
PRIMARY_WAIT_SECONDS = 3.0
# Hops handled at once per process; the rest wait their turn, so a burst queues here rather than
# piling onto the shared Redis and database pools.
HOPS_IN_FLIGHT = 64
USSD_HOPS = web.AppKey("ussd_hops", asyncio.Semaphore)  # those hops in flight in this process


def client_key(session_id: str) -> str:
    """One order per USSD session: a replayed final hit finds the order it already made (kept scoped
    to the caller's number by the core, so the session's end notification looks it up with that number)."""
    return f"ussd:{session_id}"


def short_reference(order_id: uuid.UUID) -> str:
    return order_id.hex[:8].upper()


def plain(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/plain")


async def form_of(request: web.Request) -> dict[str, object]:
    return dict(await request.post())


def check_caller(request: web.Request) -> None:
    settings = settings_of(request.app, UssdSettings)
    check_at_token("USSD", "USSD_CALLBACK_TOKEN", settings.ussd_callback_token, usable=ussd_token_usable(settings),
                   production=settings.is_production, given=request.query.get("token", ""))


@routes.post("/ussd/africastalking")
async def ussd_hop(request: web.Request) -> web.Response:
    check_caller(request)
    hit = parse_hit(await form_of(request))
    async with request.app[USSD_HOPS]:
        try:
            return plain(await reply_to(request.app, hit))
        except InvalidForm:
            raise
        except Exception:  # an HTTP error would end the caller's session without a word
            log.exception("USSD hop failed for session %s", hit.session_id)
            return plain(service_unavailable(Lang.FR).body)


async def reply_to(app: web.Application, hit: Hit) -> str:
    """The cached reply for a replayed hop, else the screen computed from the whole path."""
    sessions = SessionStore(app[REDIS])
    recalled = await recall(sessions, hit)
    if recalled.record is not None and recalled.record.msisdn != hit.msisdn:
        raise InvalidForm("This sessionId belongs to another phone number.", field="sessionId")
    if recalled.reply is not None:
        return recalled.reply
    records = recalled.contests
    if records is None:
        records = await app[VOTE_SERVICE].contests_with_menus(contest_ids_dialled(hit.service_code))
        await quietly(sessions.cache_contests(hit.service_code, records))
    return await answer(app, sessions, hit, recalled.record, records)


async def recall(sessions: SessionStore, hit: Hit) -> Recalled:
    """Without Redis the path still decides the screen (and the order's client_key still dedupes)."""
    try:
        return await sessions.recall(hit.session_id, hit.text, hit.service_code)
    except RedisError:
        log.warning("USSD session store unavailable; answering from the path alone", exc_info=True)
        return Recalled(None, None, None)


async def quietly(write: Awaitable[None]) -> None:
    """A cache write that fails must not turn a good answer into an error screen."""
    try:
        await write
    except RedisError:
        log.warning("USSD session store write failed", exc_info=True)


async def answer(app: web.Application, sessions: SessionStore, hit: Hit, record: SessionRecord | None,
                 records: tuple[PublicContest, ...]) -> str:
    now = datetime.now(UTC)
    usable = usable_providers(app)
    views = tuple(build_view(r, now, usable) for r in records)
    if record is None:
        known = await app[VOTE_SERVICE].caller(hit.msisdn)
        preference, is_blocked = known.language, known.blocked
        record = SessionRecord(hit.msisdn, preference, tuple(v.slug for v in open_views(views)))
        if is_blocked or not views:
            lang = preference or (views[0].language if views else Lang.FR)
            reply = blocked(lang) if is_blocked else unknown_service(lang)
            await quietly(sessions.remember(hit.session_id, record, hit.text, reply.body))
            return reply.body
    ctx = await free_votes.with_free_left(app, context(hit, record, views, app[PHONE_WALLETS]), hit.msisdn)
    position = walk(ctx, parse_path(hit.text))
    reply = render(ctx, position, await extras_for(app, ctx, position, hit.msisdn))
    if position.chose_language and position.lang_choice is not None:
        await app[VOTE_SERVICE].remember_language(hit.msisdn, position.lang_choice)
    if reply.action is not None:
        return await place_once(app, sessions, hit, record, ctx, reply)
    await quietly(sessions.remember(hit.session_id, record, hit.text, reply.body))
    return reply.body


def usable_providers(app: web.Application) -> tuple[PayOption, ...]:
    """Providers this process can push over USSD: those that prompt on the phone, set up for it here (Orange's push
    needs its own credentials)."""
    service, providers = app[VOTE_SERVICE], app[PROVIDERS]
    return tuple(PayOption(name, provider_label(name, providers.label(name)))
                 for name in service.providers_having(Capability.PHONE_PROMPT) if service.can_pay(name, "ussd"))


def context(hit: Hit, record: SessionRecord, views: tuple[MenuContest, ...], wallets: PhoneWallets) -> MenuContext:
    """The contests pinned when the session began (so list numbers never shift under the caller)."""
    by_slug = {v.slug: v for v in views}
    listed = tuple(by_slug[slug] for slug in record.slugs if slug in by_slug)
    return MenuContext(contests=listed, service_code=hit.service_code, operator=wallets.wallet_of(hit.msisdn),
                       preference=record.preference, unavailable=None if listed else why_unavailable(views))


async def extras_for(app: web.Application, ctx: MenuContext, position: Position, msisdn: str) -> Extras:
    """Load only what the screen being shown needs."""
    if position.ending is not None:
        return Extras()
    frame = position.frame
    if frame.screen is Screen.TOP and ctx.contests[frame.contest].board is not BoardMode.HIDDEN:
        return Extras(top=await top_five(app, ctx.contests[frame.contest].id))
    if frame.screen is Screen.MINE:
        return Extras(mine=await app[VOTE_SERVICE].payer_votes(ctx.contests[frame.contest].id, msisdn))
    return Extras()


async def top_five(app: web.Application, contest_id: int) -> tuple[TopEntry, ...]:
    """The board's first five as the leaderboard ranks them (ties share a rank); no line for no votes."""
    top = await app[VOTE_SERVICE].top(contest_id, 5)
    return tuple(TopEntry(row.candidate.code, row.votes, row.rank) for row in top.rows if row.votes > 0)


async def place_once(app: web.Application, sessions: SessionStore, hit: Hit, record: SessionRecord,
                     ctx: MenuContext, reply: Reply) -> str:
    """Place the confirmed order; a concurrent retry of the same hop waits for this answer instead.

    With Redis away there is no claim to take: the order is placed anyway, and a retry of the hop
    still finds the same order through its client_key (the session id), in PostgreSQL.
    """
    try:
        claimed = await sessions.claim(hit.session_id)
        if not claimed and (body := await sessions.wait_reply(hit.session_id, hit.text, REPLAY_WAIT_SECONDS)):
            return body
    except RedisError:
        log.warning("USSD session store unavailable; placing the order without a claim", exc_info=True)
        claimed = False  # none held: none to release
    try:
        body = (await place(app, hit, ctx, reply)).body
    except BaseException:
        if claimed:
            await quietly(sessions.release(hit.session_id))
        raise
    await quietly(sessions.remember(hit.session_id, record, hit.text, body, release=claimed))
    return body


async def place(app: web.Application, hit: Hit, ctx: MenuContext, reply: Reply) -> Reply:
    action = reply.action
    assert action is not None
    if isinstance(action, TakeFreeVote):
        return await free_votes.take(app, hit.session_id, hit.msisdn, ctx, reply, action)
    contest = next((c for c in ctx.contests if c.slug == action.contest_slug), None)
    request = placing.OrderRequest(
        contest_slug=action.contest_slug, candidate_code=action.candidate, quantity=action.quantity,
        provider=action.provider, channel="ussd", msisdn=hit.msisdn, client_key=client_key(hit.session_id),
        language=reply.language.value,  # the screens' language: the SMS that follows the decision speaks it
    )
    if contest is not None and not pays_here(hit.msisdn, ctx.operator, contest, app[PHONE_WALLETS].networks()):
        return takes(reply.language, contest)
    try:
        push_after = settings_of(app, UssdSettings).ussd_push_delay_seconds
        order = (await app[VOTE_SERVICE].place_vote(request, push_after=push_after, cancellable=True,
                                                     primary_wait=PRIMARY_WAIT_SECONDS)).order
    except DomainError as exc:
        log.info("USSD vote refused for session %s: %s", hit.session_id, exc.code)
        return refusal(reply.language, exc.code, contest)
    label = provider_label(order.provider, app[PROVIDERS].label(order.provider))
    return placed(reply.language, order.quantity, order.amount, order.currency, label,
                  short_reference(order.id), app[VOTE_SERVICE].approval(order.provider))


def pays_here(msisdn: str, operator: str | None, contest: MenuContest, networks: Collection[str]) -> bool:
    """A caller of the contest's country, on a network one of its wallets serves where the network is known: another
    is told what the contest takes rather than sent a prompt that cannot be paid. `networks`: the wallets that are a
    network's own (`PhoneWallets.networks`)."""
    offered = {p.provider for p in contest.providers}
    # Only a contest all of whose wallets are networks' own turns away another network's caller: a wallet of no
    # network of ours may serve any.
    networks_only = offered <= set(networks)
    known_elsewhere = operator is not None and networks_only and operator not in offered
    return of_country(msisdn, contest.country) and not known_elsewhere


@routes.post("/ussd/africastalking/events")
async def session_ended(request: web.Request) -> web.Response:
    """Keep every notification; a session that failed before its prompt was pushed cancels its order.

    One that is not vouched for counts against its address's limit first (429 past it, nothing kept;
    see `payments.callbacks.take_callback`). Africa's Talking's own always are: with a callback token
    set, only calls carrying it get here; without one (development) a notification is vouched for
    by the order its session placed.
    """
    check_caller(request)
    event = parse_session_end(await form_of(request))
    service = request.app[VOTE_SERVICE]
    order_id = await service.order_for_client_key(client_key(event.session_id), event.msisdn)
    if order_id is None and not settings_of(request.app, UssdSettings).ussd_callback_token:
        await enforce_untied_limit(request)
    await store.record_session_end(request.app[SESSIONS], event)
    if order_id is not None and event.status.casefold() in CANCELLING_STATUSES and await service.cancel_if_unstarted(
            order_id, f"USSD session ended {event.status} before the payment prompt"):
        log.info("cancelled order %s: USSD session %s ended %s", order_id, event.session_id, event.status)
    return plain("OK")


def setup(app: web.Application) -> None:
    app[USSD_HOPS] = asyncio.Semaphore(HOPS_IN_FLIGHT)
    app.add_routes(routes)
