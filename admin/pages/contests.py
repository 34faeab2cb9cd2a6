"""The contests' pages: the list, a contest with its candidates, the form that makes or edits one, and
opening, pausing and closing it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from admin import contest_choices, field_error_texts, money_fields, texts, tier_fields
from admin.accounts import allowed
from admin.pages.rendering import render, see_other
from admin.web import contest_settings, form_of, guarded
from gateway.core.audit import Actor
from gateway.core.channel_settings import ContestFieldset, blank_fields
from gateway.core.contests import contests_admin
from gateway.core.contests.contest_drafts import (
    FRAUD_FIELD,
    BoardVisibility,
    ContestDraft,
    board_visibility,
    parse_fraud_rules,
)
from gateway.core.errors import DomainError, FieldErrors, raise_all
from gateway.core.fraud import hold_figures
from gateway.core.fraud.rules import FraudRules
from gateway.core.market import countries, market_of, wall_clock
from gateway.core.providers import Providers
from gateway.core.texts import babel_locale
from gateway.db.models import Contest
from gateway.kit.keys import MEDIA_STORAGE, PROVIDERS, SESSIONS

routes = web.RouteTableDef()

TRANSITIONS = {"draft": ("open",), "open": ("pause", "close"), "paused": ("open", "close"), "closed": ()}


def channel_form_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The channels' own settings of a contest as the form shows them (an unset text is empty, a list's items are
    between commas)."""
    return {name: "" if value is None else ", ".join(value) if isinstance(value, list | tuple) else value
            for name, value in fields.items()}


def contest_form_values(contest: Contest | None, channels: Mapping[str, Any], providers: Providers,
                        country: str | None = None) -> dict[str, Any]:
    """The form's fields as text, from a contest (or a new one's defaults in `country`: its currency and main zone,
    paid by the phone's wallets that take that currency) and `channels`: the channels' own settings of it (or their
    defaults)."""
    if contest is None:
        code, currency, zone = contest_choices.new_contest_market(country)
        return {"name": "", "slug": "", "price_per_vote": 100, "currency": currency, "country": code,
                "time_zone": zone, "max_votes_per_order": 100,
                "opens_at": "", "closes_at": "", "providers": contest_choices.preselected(providers, currency),
                **channel_form_values(channels), "board": "live", "board_frozen_at": "",
                "default_language": "fr", "stars_per_vote": "", **fraud_fields(FraudRules()),
                **tier_fields.tier_rows(None, currency), "free_votes_per_day": 0, "free_votes_per": "day",
                "free_vote_weight": "apart", "late_grace_minutes": 5}
    board = board_visibility(contest.show_counts, contest.board_frozen_at, contest.board_sealed)
    # Times are typed and shown on the contest's own clock (stored in UTC).
    zone = contest.time_zone
    frozen = wall_clock(contest.board_frozen_at, zone) if contest.board_frozen_at else ""
    return {"name": contest.name, "slug": contest.slug, "price_per_vote": contest.price_per_vote,
            "currency": contest.currency, "country": contest.country, "time_zone": zone,
            "max_votes_per_order": contest.max_votes_per_order, "opens_at": wall_clock(contest.opens_at, zone),
            "closes_at": wall_clock(contest.closes_at, zone), "providers": list(contest.providers),
            **channel_form_values(channels),
            "board": board.value, "board_frozen_at": frozen, "default_language": contest.default_language,
            "stars_per_vote": contest.stars_per_vote or "", **fraud_fields(FraudRules.of(contest.fraud_rules)),
            **tier_fields.tier_rows(contest.price_tiers, contest.currency),
            "free_votes_per_day": contest.free_votes_per_day, "free_votes_per": contest.free_votes_per,
            "free_vote_weight": contest.free_vote_weight, "late_grace_minutes": contest.late_grace_seconds // 60}


def country_choices(lang: str) -> list[tuple[str, str]]:
    """Every country a contest can be in, as (code, name in the organiser's language), the usual ones first."""
    names = babel_locale(lang).territories
    return [(code, names.get(code, code)) for code in countries()]


def zone_choices(country: object = None) -> list[str]:
    """The country's zones where it has several, else every country's, the usual countries' first (a browser's list
    filters as the organiser types)."""
    try:
        own = market_of(str(country or "")).time_zones
    except DomainError:
        own = ()
    if len(own) > 1:
        return list(own)
    return list(dict.fromkeys(zone for code in countries() for zone in market_of(code).time_zones))


def channel_fieldsets(request: web.Request) -> list[ContestFieldset]:
    """Each channel's own fields of a contest as it describes them, in the organiser's language: the pages
    draw and show whatever the channels have, naming none of their fields."""
    lang = texts.language_of(request)
    return [channel.describe(lang) for channel in contest_settings(request)]


def fraud_fields(rules: FraudRules) -> dict[str, int]:
    return {f"{FRAUD_FIELD}{name}": value for name, value in rules.stored().items()}


def field_errors(error: DomainError | None, lang: str, currency: str = "",
                 fieldsets: Sequence[ContestFieldset] = ()) -> dict[str, str]:
    """Each wrong field's message in `lang` (admin.field_error_texts; the bundles' in admin.tier_fields, their
    amounts in `currency`; a channel's field's as its `fieldsets` say it, described in `lang`), by the form field it
    goes beside (a fraud threshold's is `fraud_<rule>`); one with no field of the form goes above it (`""`)."""
    errors = error.errors if isinstance(error, FieldErrors) else [error] if error is not None else []
    refusals = {field.name: field.refusal for fieldset in fieldsets for field in fieldset.fields if field.refusal}
    shown: dict[str, str] = {}
    for each in errors:
        field = each.field or ""
        field = f"{FRAUD_FIELD}{field}" if field in FraudRules.names() else field
        if each.code == field_error_texts.INVALID and field in refusals:
            message = refusals[field]
        else:
            message = field_error_texts.shown(tier_fields.shown(each, currency, lang), lang)
        shown[field] = f"{shown[field]} {message}" if field in shown else message
    return shown


def form_page(request: web.Request, actor: Actor, heading: str, action: str, values: Mapping[str, Any],
              error: DomainError | None = None, preview: hold_figures.Preview | None = None,
              ) -> web.Response:
    lang = texts.language_of(request)
    providers = values.get("providers") or []
    values = {**contest_form_values(None, blank_fields(contest_settings(request)), request.app[PROVIDERS]), **values,
              "providers": providers if isinstance(providers, list) else [providers]}
    errors = field_errors(error, lang, str(values.get("currency") or ""), channel_fieldsets(request))
    shown_fields = {"name", "slug", "price_per_vote", "currency", "max_votes_per_order", "country", "time_zone",
                    "opens_at", "closes_at", "providers", "stars_per_vote", "board",
                    "board_frozen_at", "default_language", *(f"{FRAUD_FIELD}{name}" for name in FraudRules.names()),
                    tier_fields.FIELD, "free_votes_per_day", "free_votes_per", "free_vote_weight",
                    "late_grace_minutes",
                    *(field.name for fieldset in channel_fieldsets(request) for field in fieldset.fields)}
    above = " ".join(message for field, message in errors.items() if field not in shown_fields) or None
    response = render(request, "contest_form.html", {
        "heading": heading, "action": action, "form": values, "new": action.endswith("/new"),
        "known_providers": contest_choices.provider_choices(request.app[PROVIDERS], lang),
        "channel_fieldsets": channel_fieldsets(request),
        "boards": [b.value for b in BoardVisibility], "fraud_names": FraudRules.names(), "fraud_field": FRAUD_FIELD,
        "voter_languages": contest_choices.language_choices(),
        "countries": country_choices(lang), "zones": zone_choices(values.get("country")),
        "markets": contest_choices.markets_json(), "errors": errors,
        "fraud_open": any(field.startswith(FRAUD_FIELD) for field in errors) or preview is not None,
        "error": above, "preview": preview, "tier_rows": tier_fields.ROWS}, actor,
        error.status if error is not None else 200)
    return money_fields.with_script(response)


@routes.get("/admin/static/market.js")
async def market_script(request: web.Request) -> web.StreamResponse:
    return web.Response(text=contest_choices.SCRIPT, content_type="text/javascript",
                        headers={"Cache-Control": "max-age=300"})


@routes.get("/admin/contests")
@guarded("contests.read")
async def contests_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    contests = await contests_admin.list_contests(request.app[SESSIONS], actor)
    return render(request, "contests.html", {"contests": contests, "can_write": allowed(actor.role, "contests.write")},
                  actor)


@routes.get("/admin/contests/new")
@guarded("contests.write")
async def new_contest_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    _ = texts.gettext_for(texts.language_of(request))
    return form_page(request, actor, _("New contest"), "/admin/contests/new",
                     contest_form_values(None, blank_fields(contest_settings(request)), request.app[PROVIDERS],
                                         request.query.get("country")))


@routes.post("/admin/contests/new")
@guarded("contests.write")
async def new_contest_post(request: web.Request, actor: Actor) -> web.StreamResponse:
    form = await form_of(request)
    try:  # the price is typed in major units (the API's JSON keeps minor units)
        draft = checked_draft(request, form)
        contest = await contests_admin.create_contest(request.app[SESSIONS], actor, draft)
    except DomainError as exc:
        _ = texts.gettext_for(texts.language_of(request))
        return form_page(request, actor, _("New contest"), "/admin/contests/new", form, exc)
    raise see_other(f"/admin/contests/{contest.id}")


def checked_draft(request: web.Request, form: Mapping[str, Any]) -> ContestDraft:
    """The contest the page's form describes (amounts typed in major units, the bundles' rows among them), or one
    FieldErrors with every field it got wrong."""
    fields, refused = dict(form), []
    try:
        fields[tier_fields.FIELD] = tier_fields.tiers_in_minor(form, texts.language_of(request))
    except DomainError as exc:
        refused.append(exc)
    try:
        draft = contest_choices.checked_contest(request, fields, typed_in_major=True)
    except DomainError as exc:
        raise FieldErrors([*(exc.errors if isinstance(exc, FieldErrors) else [exc]), *refused]) from None
    raise_all(refused)
    tier_fields.check_tier_prices(request, draft)
    return draft


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
        "error": error, "notice": notice}, actor, status,
        media_from=request.app[MEDIA_STORAGE].files_origin)  # the candidates' photos, where the storage keeps them


@routes.get("/admin/contests/{contest_id:[0-9]{1,9}}/edit")
@guarded("contests.write")
async def edit_contest_page(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, cid)
    channels = await contests_admin.channel_settings(request.app[SESSIONS], contest_settings(request), [cid])
    values = contest_form_values(detail.contest, channels[cid], request.app[PROVIDERS])
    values["price_per_vote"] = money_fields.shown_major(detail.contest.price_per_vote, detail.contest.currency)
    _ = texts.gettext_for(texts.language_of(request))
    return form_page(request, actor, _("Edit {name}", name=detail.contest.name), f"/admin/contests/{cid}/edit", values)


@routes.post("/admin/contests/{contest_id:[0-9]{1,9}}/edit")
@guarded("contests.write")
async def edit_contest_post(request: web.Request, actor: Actor) -> web.StreamResponse:
    cid = contest_id(request)
    form = await form_of(request)
    if form.get("preview"):
        return await fraud_preview(request, actor, cid, form)
    try:
        draft = checked_draft(request, form)
        await contests_admin.update_contest(request.app[SESSIONS], actor, cid, draft, contest_settings(request))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return form_page(request, actor, edit_heading(request), f"/admin/contests/{cid}/edit", form, exc)
    raise see_other(f"/admin/contests/{cid}")


async def fraud_preview(request: web.Request, actor: Actor, cid: int, form: Mapping[str, Any]) -> web.Response:
    """The form again, saved nothing, with what its fraud thresholds would have done to the latest orders."""
    action = f"/admin/contests/{cid}/edit"
    try:
        rules = parse_fraud_rules(form)
    except DomainError as exc:
        return form_page(request, actor, edit_heading(request), action, form, exc)
    detail = await contests_admin.contest_detail(request.app[SESSIONS], actor, cid)  # 404 for another's contest
    tried = await hold_figures.preview(request.app[SESSIONS], detail.contest.id, rules)
    return form_page(request, actor, edit_heading(request), action, form, preview=tried)


def edit_heading(request: web.Request) -> str:
    _ = texts.gettext_for(texts.language_of(request))
    return _("Edit contest")


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
