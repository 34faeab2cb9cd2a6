"""The entry API a candidate's browser speaks (`/api/v1/contests/{slug}/entries…`, `/api/v1/entries/{id}…`):
prove a number with a texted code, take grants to upload straight to the media storage, send the entry, follow
it, replace its clip. No file crosses this process: only grants, ids and words.

A code costs its asker a proof of work before it costs the platform a text (gateway.kit.code_work), and counts
against its contest's own day's budget: whoever spends one contest's codes stops no other's, nor payout codes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from channels.web import number_proof
from channels.web.api import InvalidRequest, require_json
from channels.web.schemas import CodeRequest
from gateway.core.entries import entering
from gateway.core.entries.entry_texts import code_text
from gateway.core.errors import DomainError
from gateway.core.media_storage import UploadGrant
from gateway.core.phone import InvalidMsisdn, normalise_msisdn, textable_in
from gateway.core.texts import Lang
from gateway.kit import phone_proof
from gateway.kit.keys import MEDIA_STORAGE, PROVIDERS, SESSIONS, SETTINGS
from gateway.kit.settings import ServiceSettings

routes = web.RouteTableDef()
PURPOSE = "entry"
M = TypeVar("M", bound=BaseModel)


class ProofRequest(BaseModel):
    msisdn: str = Field(max_length=32)
    code: str = Field(max_length=12)


class GrantRequest(BaseModel):
    proof: str = Field(max_length=2000)
    kind: str = Field(max_length=16)


class EntryRequest(BaseModel):
    proof: str = Field(max_length=2000)
    name: str = Field(max_length=1000)
    bio: str | None = Field(default=None, max_length=5000)
    rules_accepted: bool
    clip_id: uuid.UUID
    photo_id: uuid.UUID | None = None
    language: str = "fr"


class EntryToken(BaseModel):
    token: str = Field(max_length=200)


class ClipRequest(EntryToken):
    clip_id: uuid.UUID


async def body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    require_json(request)
    try:
        data = json.loads(raw)
        return model.model_validate(data)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            raise InvalidRequest(f"{field}: {first['msg']}" if field else first["msg"], field=field) from exc
        raise DomainError("The body must be a JSON object.", code="invalid_json") from exc


def e164(raw: str, country: str) -> str:
    """`raw` as E.164, read in the contest's `country` as its people write their numbers (`0712 000 102` is Kenyan
    in a Kenyan contest, no number in a Cameroonian one)."""
    try:
        return normalise_msisdn(raw, country)
    except InvalidMsisdn as exc:
        raise DomainError("That is not a phone number we can text.", code="invalid_msisdn", field="msisdn") from exc


def proven(request: web.Request, proof: str) -> str:
    number = phone_proof.proven_number(request.app[SETTINGS].secret_key.get_secret_value(), proof, PURPOSE,
                                       datetime.now(UTC))
    if number is None:
        raise DomainError("Prove your number with the code we text you first (or again: proofs expire).",
                          code="number_not_proven", field="proof")
    return number


def grant_json(grant: UploadGrant) -> dict[str, Any]:
    return {"upload_id": grant.upload_id, "protocol": grant.protocol, "url": grant.url,
            "max_bytes": grant.max_bytes, "expires_at": grant.expires_at.isoformat(), "fields": dict(grant.fields),
            "chunk_bytes": grant.chunk_bytes}


def codes_budget(settings: ServiceSettings, call: entering.PublicCall) -> tuple[str, int]:
    """The day's budget a contest's entry codes are counted against: its own, its organiser's figure (or the
    service's default), never above the service's ceiling."""
    per_day = min(call.codes_per_day or settings.entry_codes_default_per_day, settings.entry_codes_per_day)
    return f"contest:{call.contest_id}", per_day


async def open_call(request: web.Request) -> entering.PublicCall:
    call = await entering.public_call(request.app[SESSIONS], request.match_info["slug"], datetime.now(UTC))
    if not call.open_now:
        raise entering.EntriesClosed("Entries are not open for this contest.")
    return call


@routes.get("/api/v1/contests/{slug}/entries/challenge")
async def challenge(request: web.Request) -> web.Response:
    """The work a code request pays first: find a nonce (decimal digits) such that SHA-256 of "<salt>:<nonce>"
    begins with `bits` zero bits, then send `challenge` and `nonce` with the code request, once, within ten
    minutes."""
    call = await open_call(request)
    scope, per_day = codes_budget(request.app[SETTINGS], call)
    return await number_proof.challenge(request, PURPOSE, call.slug, scope, per_day)


@routes.post("/api/v1/contests/{slug}/entries/code")
async def send_code(request: web.Request) -> web.Response:
    asked = await body(request, CodeRequest)
    call = await open_call(request)
    msisdn = e164(asked.msisdn, call.country)
    settings = request.app[SETTINGS]
    regions = frozenset(code.strip().upper() for code in settings.entry_phone_regions.split(",") if code.strip())
    if not textable_in(msisdn, regions):
        raise DomainError("Enter with a mobile number of a country this contest runs in.", code="number_not_served",
                          field="msisdn")
    scope, per_day = codes_budget(settings, call)
    return await number_proof.send_code(request, asked, msisdn, PURPOSE, call.slug, scope, per_day,
                                        lambda lang, code: code_text(lang, code, call.contest_name))


@routes.post("/api/v1/contests/{slug}/entries/proof")
async def prove_number(request: web.Request) -> web.Response:
    asked = await body(request, ProofRequest)
    call = await entering.public_call(request.app[SESSIONS], request.match_info["slug"], datetime.now(UTC))
    msisdn = e164(asked.msisdn, call.country)  # as its code was sent: the same number, whichever way it is written
    return web.json_response({"proof": await number_proof.proof_of(request, msisdn, PURPOSE, asked.code),
                              "msisdn": msisdn})


@routes.post("/api/v1/contests/{slug}/entries/uploads")
async def grant_upload(request: web.Request) -> web.Response:
    asked = await body(request, GrantRequest)
    grant = await entering.grant_upload(request.app[SESSIONS], request.app[MEDIA_STORAGE], request.match_info["slug"],
                                       proven(request, asked.proof), asked.kind, datetime.now(UTC))
    return web.json_response(grant_json(grant), status=201)


@routes.post("/api/v1/contests/{slug}/entries")
async def submit(request: web.Request) -> web.Response:
    asked = await body(request, EntryRequest)
    msisdn = proven(request, asked.proof)
    entry, token = await entering.submit_entry(
        request.app[SESSIONS], request.app[MEDIA_STORAGE], request.match_info["slug"], msisdn, name=asked.name,
        bio=asked.bio, language=Lang.parse(asked.language) or Lang.FR, rules_accepted=asked.rules_accepted,
        clip_id=asked.clip_id, photo_id=asked.photo_id, now=datetime.now(UTC))
    link = f"/entries/{entry.id}?t={token}"
    return web.json_response({"entry_id": str(entry.id), "token": token, "link": link, "status": entry.status.value},
                             status=201)


def entry_id_of(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["entry_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@routes.get("/api/v1/entries/{entry_id}")
async def entry_status(request: web.Request) -> web.Response:
    view = await entering.entry_view(request.app[SESSIONS], request.app[MEDIA_STORAGE], request.app[PROVIDERS],
                                     entry_id_of(request), request.query.get("token", ""))
    return web.json_response({
        "entry_id": str(view.id), "status": view.status.value, "reason": view.reason, "name": view.name,
        "candidate_code": view.candidate_code,
        "fee": None if view.fee is None else {
            "amount": view.fee.amount, "currency": view.fee.currency, "paid": view.fee.paid,
            "providers": list(view.fee.providers),
            "waiting_order": str(view.fee.waiting_order) if view.fee.waiting_order else None},
        "clip": {"state": view.clip.state.value, "refusal": view.clip.refusal, "urls": dict(view.clip.urls)},
    }, headers={"Cache-Control": "no-store"})


@routes.post("/api/v1/entries/{entry_id}/uploads")
async def grant_new_clip(request: web.Request) -> web.Response:
    asked = await body(request, EntryToken)
    grant = await entering.grant_for_entry(request.app[SESSIONS], request.app[MEDIA_STORAGE], entry_id_of(request),
                                          asked.token, datetime.now(UTC))
    return web.json_response(grant_json(grant), status=201)


@routes.put("/api/v1/entries/{entry_id}/clip")
async def replace_clip(request: web.Request) -> web.Response:
    asked = await body(request, ClipRequest)
    await entering.replace_clip(request.app[SESSIONS], request.app[MEDIA_STORAGE], entry_id_of(request), asked.token,
                               asked.clip_id, datetime.now(UTC))
    return web.json_response({"clip_id": str(asked.clip_id)})
