"""The admin JSON API's own OpenAPI document (GET /api/v1/admin/openapi.json). The public document
(channels/web/openapi.py) belongs to the web channel, which the admin area may not import; a tool
reads both. Paths are generated from the routes, so none goes undocumented."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from admin.api import PREFIX
from admin.jury import SUMMARIES as JURY_SUMMARIES
from admin.show_rounds import SUMMARIES as ROUND_SUMMARIES
from admin.web import contest_settings, provider_names
from gateway.core.channel_settings import ChannelContestSettings
from gateway.core.contests.contest_drafts import MAX_THRESHOLD, BoardVisibility
from gateway.core.fraud.rules import FraudRules
from gateway.core.texts import LANGUAGES

SUMMARIES = {
    "/token": "Sign in (email, password, code): an access and a refresh token; for an account whose second "
              "factor is not set up yet, 202 with its otpauth URI and an enrolment ticket instead",
    "/token/enrol": "Confirm the second factor (enrol_ticket, code: the first code of the app the URI was added "
                    "to): an access and a refresh token",
    "/token/refresh": "A new pair for a refresh token (each is used once)",
    "/signout": "End this session",
    "/contests": "Contests (GET: those you may see; POST: create a draft)",
    "/contests/{contest_id}": "A contest with its candidates and votes (PUT: change it)",
    "/contests/{contest_id}/{action}": "Open, pause or close a contest (action: open|pause|close)",
    "/contests/{contest_id}/candidates": "Add a candidate (name, code?, bio?)",
    "/contests/{contest_id}/candidates/import": "Import candidates from CSV text (csv): all or nothing",
    "/contests/{contest_id}/candidates/order": "The public lists' order of candidates (order: every code once)",
    "/candidates/{candidate_id}": "Edit a candidate (name, bio) or its status (active|eliminated|hidden)",
    "/orders": "Search orders (msisdn, reference, status, candidate, channel, provider, since, until)",
    "/orders/{order_id}": "An order with its provider events, messages and audit entries",
    "/orders/{order_id}/resend": "Queue an order's receipt again",
    "/orders/{order_id}/refund": "Owners: refund a paid order (reason). Stripe and Stars through their APIs, mobile "
                                 "money marked for a refund by hand; its votes leave the board once; audited. 409 "
                                 "when not paid or already refunded, 502 when the provider refused: nothing changed",
    "/review": "The orders waiting for a person, with the decisions each allows",
    "/review/{order_id}": "Decide one (kind, decision, reason)",
    "/audit": "The audit trail, newest first (actor, action prefix, target, limit)",
    "/openapi.json": "This document",
    "/blocked": "Blocked payer numbers and client addresses (networks in CIDR notation)",
    "/blocked/{kind}": "Block a number (numbers: msisdn, reason?) or an address (addresses: address, reason?)",
    "/blocked/{kind}/remove": "Unblock a number (msisdn) or an address (address)",
    "/contests/{contest_id}/dashboard": "A contest's dashboard figures: votes and revenue by hour, channel, provider "
                                        "and operator, payment outcomes, queues, the tally invariant per candidate",
    "/control": "The control room's figures, the whole service over the last 5 minutes (owners, auditors, "
                "support): votes a second by channel and provider, latency p50/p99, money in, refunds, providers, "
                "backlogs, holds, and the alerts evaluated in-process (firing or quiet)",
    "/contests/{contest_id}/exports/{kind}.{fmt}": "Export orders, tallies or the audit log (kind) as csv or xlsx "
                                                   "(fmt), from/to ISO dates; auditors and owners; audited",
    "/accounts/{admin_id}/{action}": "An owner disables (ending its sessions) or enables an account",
    "/contests/{contest_id}/results/sign": "Sign the contest's results sheet now (owners, auditors): CSV + Ed25519",
    "/results-key": "The public key that checks every signed results sheet",
    "/contests/{contest_id}/certificates": "The winners' certificates (top: the first N places, 1 by default, ties "
                                           "included; sheet: a round's sheet id, or one signed at or after close; "
                                           "default: the latest signed at or after close): each one's code, name, "
                                           "place, votes, round and jury points (null where none), its PDF's path "
                                           "and the /verify address its QR code carries; 409 until the results are "
                                           "signed at close",
    "/contests/{contest_id}/certificates/{code}.pdf": "One candidate's certificate as PDF, in the contest's language, "
                                                      "from the results signed at close or ?sheet= (as for the list); "
                                                      "issuer: the name shown as giving it (default: the contest's "
                                                      "organiser account); its QR code opens /verify, which checks it "
                                                      "against the signed sheet; 409 until the results are signed at "
                                                      "close",
    "/contests/{contest_id}/entries": "A contest's entries, oldest first (status: pending|approved|rejected; none: "
                                      "all), each with its number masked and its clip's and photo's state and URLs",
    "/contests/{contest_id}/entries/call": "The call for entries (GET; PUT: opens_at, closes_at, rules, max_entries "
                                           "or null for no limit, fee_amount, codes_per_day or null for the "
                                           "service's default); audited",
    "/entries/approve": "Approve entries (entries: ids): each a candidate with the next free code; all of them or "
                        "none (409 naming the entry that could not be: decided already, its clip not ready); audited",
    "/entries/{entry_id}/reject": "Reject a pending entry (reason: required, at most 300 characters, texted to the "
                                  "candidate); audited",
    "/candidates/{candidate_id}/{kind}/grant": "A tus grant to upload a new clip or photo (kind: clip|photo) for the "
                                               "candidate (upload_id, url, fields to send along, chunk_bytes): the "
                                               "file goes to the media storage, never to this API",
    "/candidates/{candidate_id}/{kind}/uploads/{upload_id}": "Where that upload stands: granted, received, ready "
                                                             "(its URLs) or refused (the reason: a photo that is "
                                                             "not a JPEG, PNG or WebP, a clip too long)",
    "/candidates/{candidate_id}/{kind}": "Replace the candidate's clip or photo by a ready upload (upload_id); 409 "
                                         "until it is ready; audited",
    "/contests/{contest_id}/settlement": "The contest's settlement now, per currency (gross, refunds, fees, "
                                         "commission, net, paid out, under way, balance, awaiting verification, "
                                         "payable) and its signed statements; minor units",
    "/contests/{contest_id}/settlement/sign": "Sign a settlement statement now (owners; every other role: 403): "
                                              "201 with its CSV and detached signature's URLs",
    "/contests/{contest_id}/payouts": "Its payout account and payouts, newest first, each with our reference (the "
                                      "provider's X-Reference-Id) and the provider's transaction id (GET); ask for "
                                      "one (POST: currency, amount up to the payable balance): 201, awaiting approval",
    "/contests/{contest_id}/payouts/{payout_id}/approve": "Owners other than its requester: approve it (code: a "
                                                          "fresh one of your authenticator); 404 under another "
                                                          "contest's URL",
    "/contests/{contest_id}/payouts/{payout_id}/decline": "Owners: decline it (reason)",
    "/contests/{contest_id}/payouts/{payout_id}/paid": "Owners: mark one paid by hand as paid (proof: the "
                                                       "transfer's reference at the bank)",
    "/contests/{contest_id}/refunds": "Refunds its providers send by their APIs, newest first: our reference, the "
                                      "provider's transaction id, state (requested, sent, succeeded, failed) and the "
                                      "provider's reason when it refused",
}

SUMMARIES.update(JURY_SUMMARIES)
SUMMARIES.update(ROUND_SUMMARIES)


FRAUD_RULES = {"type": "object", "additionalProperties": False,
               "description": "Thresholds of the fraud rules; a missing one keeps its default, 0 turns it off",
               "properties": {name: {"type": "integer", "minimum": 0, "maximum": MAX_THRESHOLD}
                              for name in FraudRules.names()}}
# How every amount of this API reads (its pages take major units; its JSON keeps minor units).
AMOUNTS = ("Amounts are integers in minor units of their currency, sent and answered so: every answer that carries an "
           "amount carries its `currency` (ISO 4217) and `minor_digits`, the currency's exponent (KES 2: 5000 is "
           "KES 50.00; XAF and XOF 0: 500 is 500 francs CFA). A price one of the contest's providers cannot charge "
           "(M-Pesa: whole shillings, so KES prices are multiples of 100) is refused with price_not_chargeable, "
           "naming the provider and the nearest prices it can charge.")
# The contest's own fields; each channel's own settings of it are added from what the channel describes.
CONTEST_FIELDS: dict[str, Any] = {
    "type": "object", "description": "The whole setting (PUT replaces it): a field left out takes its default",
    "required": ["name", "slug", "price_per_vote", "currency", "max_votes_per_order", "opens_at",
                                   "closes_at", "providers"],
    "properties": {
        "name": {"type": "string"}, "slug": {"type": "string"},
        "price_per_vote": {"type": "integer", "description": "minor units of currency (KES 10.50 is 1050); "
                           "each of its providers must be able to charge it"},
        "currency": {"type": "string"}, "max_votes_per_order": {"type": "integer"},
        "country": {"type": "string", "description": "ISO 3166-1 alpha-2 of its audience: numbers typed without their "
                    "country code are read as this country's; default: its currency's country"},
        "time_zone": {"type": "string", "description": "IANA (Africa/Nairobi): its times are shown on this clock, "
                      "and a date-time without an offset is read on it; default: the country's main zone"},
        "opens_at": {"type": "string", "format": "date-time"}, "closes_at": {"type": "string", "format": "date-time"},
        "providers": {"type": "array", "items": {"type": "string"}},  # the service's own (`contest_fields`)
        "stars_per_vote": {"type": ["integer", "null"], "description": "null: not sold in the Telegram bot"},
        "price_tiers": {"type": "array", "maxItems": 5, "description": "bundles: an order of exactly `votes` votes "
                        "costs `amount` (minor units of currency), any other number price_per_vote a vote; votes 1 to "
                        "max_votes_per_order, each once; an amount above 0, never above votes x price_per_vote, a "
                        "larger bundle never dearer per vote; answered sorted by votes; [] or left out: none",
                        "items": {"type": "object", "additionalProperties": False, "required": ["votes", "amount"],
                                  "properties": {"votes": {"type": "integer", "minimum": 1},
                                                 "amount": {"type": "integer", "minimum": 1}}}},
        "board": {"enum": [b.value for b in BoardVisibility],
                  "description": "live, hidden_counts, frozen (from board_frozen_at), sealed (until close)"},
        "board_frozen_at": {"type": ["string", "null"], "format": "date-time"},
        "default_language": {"enum": [lang.value for lang in LANGUAGES]},
        "fraud_rules": {"$ref": "#/components/schemas/FraudRules"},
    }}
API_LANGUAGE = "en"  # the document's descriptions, the channels' labels among them


def contest_fields(channels: Sequence[ChannelContestSettings], providers: Sequence[str]) -> dict[str, Any]:
    """The contest body's schema: the contest's own fields, its providers among those the service knows, and every
    channel's, each channel's described by its JSON Schema with its English label as the description (unless the
    channel gives one)."""
    described = {field.name: {"description": field.label, **field.json_schema}
                 for channel in channels for field in channel.describe(API_LANGUAGE).fields}
    chosen = {"providers": {"type": "array", "items": {"enum": list(providers)}}}
    return {**CONTEST_FIELDS, "properties": {**CONTEST_FIELDS["properties"], **chosen, **described}}


ENROLMENT = {"type": "object", "required": ["status", "totp_uri", "enrol_ticket", "expires_in"], "properties": {
    "status": {"const": "totp_enrolment_required"},
    "totp_uri": {"type": "string", "description": "otpauth:// URI of the TOTP secret, for an authenticator app"},
    "enrol_ticket": {"type": "string", "description": "what POST /token/enrol takes with the first code"},
    "expires_in": {"type": "integer", "description": "seconds the ticket stays valid"},
    "message": {"type": "string"}}}
SIGN_IN = {"type": "object", "required": ["email", "password"], "properties": {
    "email": {"type": "string"}, "password": {"type": "string"},
    "code": {"type": "string", "description": "the app's 6 digits; each code signs in once"}}}
ENROL = {"type": "object", "required": ["enrol_ticket", "code"], "properties": {
    "enrol_ticket": {"type": "string"}, "code": {"type": "string"}}}
BODIES = {("/contests", "post"): "ContestFields", ("/contests/{contest_id}", "put"): "ContestFields",
          ("/token", "post"): "SignIn", ("/token/enrol", "post"): "Enrol",
          ("/orders/{order_id}/refund", "post"): "Refund",
          ("/contests/{contest_id}/entries/call", "put"): "EntryCall", ("/entries/approve", "post"): "Approve",
          ("/entries/{entry_id}/reject", "post"): "Reject", ("/candidates/{candidate_id}/{kind}", "put"): "Media",
          ("/contests/{contest_id}/payouts", "post"): "PayoutRequest",
          ("/contests/{contest_id}/payouts/{payout_id}/approve", "post"): "PayoutApproval"}
NOT_SIGNED: dict[str, Any] = {
    "409": {"description": "The results are not signed at close yet (results_not_signed), the sheet asked was signed "
                           "on demand (sheet_not_final), or a jury's points are still sealed (jury_sealed)"},
    "404": {"description": "No such contest among yours, or no such candidate on the signed sheet"}}
EXTRA_RESPONSES: dict[str, dict[str, Any]] = {
    "/token": {"202": {"description": "Password right, second factor not set up: enrol it", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Enrolment"}}}}},
    "/contests/{contest_id}/certificates": NOT_SIGNED,
    "/contests/{contest_id}/certificates/{code}.pdf": {**NOT_SIGNED, "200": {
        "description": "The certificate", "content": {"application/pdf": {"schema": {"type": "string",
                                                                                        "format": "binary"}}}}}}
REFUND = {"type": "object", "required": ["reason"], "additionalProperties": False,
          "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500,
                                    "description": "why the money goes back (kept in the audit trail)"}}}
ENTRY_CALL = {"type": "object", "required": ["opens_at", "closes_at", "rules"], "properties": {
    "opens_at": {"type": "string", "format": "date-time"}, "closes_at": {"type": "string", "format": "date-time"},
    "rules": {"type": "string", "minLength": 1, "description": "the rules a candidate accepts"},
    "max_entries": {"type": ["integer", "null"], "minimum": 1, "description": "null: no limit"},
    "fee_amount": {"type": ["integer", "null"], "minimum": 1,
                   "description": "minor units of the contest's currency; null: free entry"},
    "codes_per_day": {"type": ["integer", "null"], "minimum": 1,
                      "description": "codes texted a day to numbers entering, at most (at most the service's "
                                     "ceiling, ENTRY_CODES_PER_DAY; 400 above it); null: the service's default"}}}
APPROVE = {"type": "object", "required": ["entries"], "properties": {
    "entries": {"type": "array", "minItems": 1, "maxItems": 200, "items": {"type": "string", "format": "uuid"}}}}
REJECT = {"type": "object", "required": ["reason"], "properties": {
    "reason": {"type": "string", "minLength": 1, "maxLength": 300, "description": "texted to the candidate"}}}
PAYOUT_REQUEST = {"type": "object", "required": ["currency", "amount"], "properties": {
    "currency": {"type": "string", "minLength": 3, "maxLength": 3},
    "amount": {"type": "integer", "minimum": 1, "description": "minor units, at most the payable balance"}}}
PAYOUT_APPROVAL = {"type": "object", "required": ["code"], "properties": {
    "code": {"type": "string", "description": "a fresh code of the approver's authenticator (never one used)"}}}
MEDIA = {"type": "object", "required": ["upload_id"], "properties": {
    "upload_id": {"type": "string", "format": "uuid", "description": "from POST …/{kind}/grant, once ready"}}}


def document(app: web.Application, channels: Sequence[ChannelContestSettings],
             providers: Sequence[str]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if not canonical.startswith(PREFIX) or route.method == "HEAD":
            continue
        path = canonical.removeprefix(PREFIX)
        operation: dict[str, Any] = {"summary": SUMMARIES.get(path, path), "responses": {
            "200": {"description": "OK"}, "401": {"description": "Sign in first"},
            "403": {"description": "Not for your role"}, **EXTRA_RESPONSES.get(path, {})}}
        if path not in ("/token", "/token/refresh", "/token/enrol", "/openapi.json"):
            operation["security"] = [{"bearer": []}]
        body = BODIES.get((path, route.method.lower()))
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{body}"}}}}
        paths.setdefault(canonical, {})[route.method.lower()] = operation
    return {"openapi": "3.1.0", "info": {"title": "Ballot admin API", "version": "1", "description": AMOUNTS},
            "paths": paths,
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
                           "schemas": {"ContestFields": contest_fields(channels, providers), "FraudRules": FRAUD_RULES,
                                       "SignIn": SIGN_IN, "Enrol": ENROL, "Enrolment": ENROLMENT,
                                       "Refund": REFUND, "EntryCall": ENTRY_CALL, "Approve": APPROVE,
                                       "Reject": REJECT, "Media": MEDIA, "PayoutRequest": PAYOUT_REQUEST,
                                       "PayoutApproval": PAYOUT_APPROVAL}}}


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document(request.app, contest_settings(request), provider_names(request)))


def setup(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/openapi.json", openapi_json)
