"""The contests' pages: the list, a contest with its candidates, the form that makes or edits one, and
opening, pausing and closing it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from admin import money_fields, texts
from admin.accounts import allowed
from admin.pages.rendering import render, see_other
from admin.web import contest_settings, form_of, guarded, provider_names
from gateway.core.audit import Actor
from gateway.core.channel_settings import ContestFieldset, blank_fields
from gateway.core.contests import contests_admin
from gateway.core.contests.contest_drafts import (
    FRAUD_FIELD,
    BoardVisibility,
    board_visibility,
    parse_contest,
    parse_fraud_rules,
)
from gateway.core.errors import DomainError
from gateway.core.fraud import hold_figures
from gateway.core.fraud.rules import FraudRules
from gateway.core.market import DEFAULT_COUNTRY, countries, market_of, wall_clock
from gateway.core.providers import Capability, Providers
from gateway.core.texts import LANGUAGES, babel_locale
from gateway.db.models import Contest
from gateway.kit.keys import PROVIDERS, SESSIONS

routes = web.RouteTableDef()

TRANSITIONS = {"draft": ("open",), "open": ("pause", "close"), "paused": ("open", "close"), "closed": ()}


def channel_form_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The channels' own settings of a contest as the form shows them (an unset text is empty)."""
    return {name: "" if value is None else value for name, value in fields.items()}


def contest_form_values(contest: Contest | None, channels: Mapping[str, Any], providers: Providers) -> dict[str, Any]:
    """The form's fields as text, from a contest (or a new one's defaults: paid by mobile money) and `channels`: the
    channels' own settings of it (or their defaults)."""
    if contest is None:
        return {"name": "", "slug": "", "price_per_vote": 100, "currency": "XAF", "country": DEFAULT_COUNTRY,
                "time_zone": market_of(DEFAULT_COUNTRY).time_zone, "max_votes_per_order": 100,
                "opens_at": "", "closes_at": "", "providers": list(providers.having(Capability.PHONE_PROMPT)),
                "ussd_service_codes": "",
                **channel_form_values(channels), "board": "live", "board_frozen_at": "",
                "default_language": "fr", "stars_per_vote": "", **fraud_fields(FraudRules())}
    board = board_visibility(contest.show_counts, contest.board_frozen_at, contest.board_sealed)
    # Times are typed and shown on the contest's own clock (stored in UTC).
    zone = contest.time_zone
    frozen = wall_clock(contest.board_frozen_at, zone) if contest.board_frozen_at else ""
    return {"name": contest.name, "slug": contest.slug, "price_per_vote": contest.price_per_vote,
            "currency": contest.currency, "country": contest.country, "time_zone": zone,
            "max_votes_per_order": contest.max_votes_per_order, "opens_at": wall_clock(contest.opens_at, zone),
            "closes_at": wall_clock(contest.closes_at, zone), "providers": list(contest.providers),
            "ussd_service_codes": ", ".join(contest.ussd_service_codes),
            **channel_form_values(channels),
            "board": board.value, "board_frozen_at": frozen, "default_language": contest.default_language,
            "stars_per_vote": contest.stars_per_vote or "", **fraud_fields(FraudRules.of(contest.fraud_rules))}


def country_choices(lang: str) -> list[tuple[str, str]]:
    """Every country a contest can be in, as (code, name in the organiser's language), the usual ones first."""
    names = babel_locale(lang).territories
    return [(code, names.get(code, code)) for code in countries()]


def zone_choices() -> list[str]:
    """Every country's zones, the usual countries' first (a browser's list filters as the organiser types)."""
    return list(dict.fromkeys(zone for code in countries() for zone in market_of(code).time_zones))


def channel_fieldsets(request: web.Request) -> list[ContestFieldset]:
    """Each channel's own fields of a contest as it describes them, in the organiser's language: the pages
    draw and show whatever the channels have, naming none of their fields."""
    lang = texts.language_of(request)
    return [channel.describe(lang) for channel in contest_settings(request)]


def fraud_fields(rules: FraudRules) -> dict[str, int]:
    return {f"{FRAUD_FIELD}{name}": value for name, value in rules.stored().items()}


def form_page(request: web.Request, actor: Actor, heading: str, action: str, values: Mapping[str, Any],
              error: str | None = None, status: int = 200, preview: hold_figures.Preview | None = None,
              ) -> web.Response:
    providers = values.get("providers") or []
    values = {**contest_form_values(None, blank_fields(contest_settings(request)), request.app[PROVIDERS]), **values,
              "providers": providers if isinstance(providers, list) else [providers]}
    response = render(request, "contest_form.html", {
        "heading": heading, "action": action, "form": values, "known_providers": provider_names(request),
        "channel_fieldsets": channel_fieldsets(request),
        "boards": [b.value for b in BoardVisibility], "fraud_names": FraudRules.names(), "fraud_field": FRAUD_FIELD,
        "voter_languages": [lang.value for lang in LANGUAGES],
        "countries": country_choices(texts.language_of(request)), "zones": zone_choices(),
        "error": error, "preview": preview}, actor, status)
    return money_fields.with_script(response)


@routes.get("/admin/contests")
@guarded("contests.read")
async def contests_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    contests = await contests_admin.list_contests(request.app[SESSIONS], actor)
    return render(request, "contests.html", {"contests": contests, "can_write": allowed(actor.role, "contests.write")},
                  actor)


@routes.get("/admin/contests/new")
@guarded("contests.write")
async def new_contest_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    return form_page(request, actor, "New contest", "/admin/contests/new",
                     contest_form_values(None, blank_fields(contest_settings(request)), request.app[PROVIDERS]))


@routes.post("/admin/contests/new")
@guarded("contests.write")
async def new_contest_post(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    try:  # the price is typed in major units (the API's JSON keeps minor units)
        draft = parse_contest(money_fields.price_in_minor(form, texts.language_of(request)), contest_settings(request),
                              providers=provider_names(request))
        money_fields.check_prices(request, draft)
        contest = await contests_admin.create_contest(request.app[SESSIONS], actor, draft)
    except DomainError as exc:
        return form_page(request, actor, "New contest", "/admin/contests/new", form, exc.message, exc.status)
    raise see_other(f"/admin/contests/{contest.id}")


def contest_id(request: web.Request) -> int:
    try:
        return int(request.match_info["contest_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get("/admin/contests/{contest_id:[0-9]{1,9}}")
@guarded("contests.read")
async def contest_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await show_contest(request, actor, contest_id(request))


async def show_contest(request: web.Request, actor: Actor, cid: int, error: str | None = None,
                       notice: str | None = None, status: int = 200) -> web.Response:
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, cid)
    channels = await contests_admin.channel_settings(request.app[SESSIONS], contest_settings(request), [cid])
    contest = detail.contest
    return render(request, "contest.html", {
        "contest": contest, "channels": channels[cid], "channel_fieldsets": channel_fieldsets(request),
        "candidates": detail.candidates, "votes": detail.votes,
        "board": board_visibility(contest.show_counts, contest.board_frozen_at, contest.board_sealed).value,
        "actions": TRANSITIONS[contest.status.value], "can_write": allowed(actor.role, "contests.write"),
        "holds": await hold_figures.holds_by_rule(request.app[SESSIONS], contest.id),
        "error": error, "notice": notice}, actor, status)


@routes.get("/admin/contests/{contest_id:[0-9]{1,9}}/edit")
@guarded("contests.write")
async def edit_contest_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, cid)
    channels = await contests_admin.channel_settings(request.app[SESSIONS], contest_settings(request), [cid])
    values = contest_form_values(detail.contest, channels[cid], request.app[PROVIDERS])
    values["price_per_vote"] = money_fields.shown_major(detail.contest.price_per_vote, detail.contest.currency)
    return form_page(request, actor, f"Edit {detail.contest.name}", f"/admin/contests/{cid}/edit", values)


@routes.post("/admin/contests/{contest_id:[0-9]{1,9}}/edit")
@guarded("contests.write")
async def edit_contest_post(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    form = await form_of(request)
    if form.get("preview"):
        return await fraud_preview(request, actor, cid, form)
    try:
        channels = contest_settings(request)
        draft = parse_contest(money_fields.price_in_minor(form, texts.language_of(request)), channels,
                              providers=provider_names(request))
        money_fields.check_prices(request, draft)
        await contests_admin.update_contest(request.app[SESSIONS], actor, cid, draft, channels)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return form_page(request, actor, "Edit contest", f"/admin/contests/{cid}/edit", form, exc.message, exc.status)
    raise see_other(f"/admin/contests/{cid}")


async def fraud_preview(request: web.Request, actor: Actor, cid: int, form: Mapping[str, Any]) -> web.Response:
    """The form again, saved nothing, with what its fraud thresholds would have done to the latest orders."""
    action = f"/admin/contests/{cid}/edit"
    try:
        rules = parse_fraud_rules(form)
    except DomainError as exc:
        return form_page(request, actor, "Edit contest", action, form, exc.message, exc.status)
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, cid)  # 404 for another's contest
    tried = await hold_figures.preview(request.app[SESSIONS], detail.contest.id, rules)
    return form_page(request, actor, "Edit contest", action, form, preview=tried)


@routes.post("/admin/contests/{contest_id:[0-9]{1,9}}/{action:open|pause|close}")
@guarded("contests.write")
async def contest_action(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    try:
        await contests_admin.change_status(request.app[SESSIONS], actor, cid, request.match_info["action"],
                                           contest_settings(request))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await show_contest(request, actor, cid, error=exc.message, status=exc.status)
    raise see_other(f"/admin/contests/{cid}")
