"""The public JSON API described as OpenAPI 3.1, built from the same pydantic models that
validate requests and shape answers, so the description cannot drift from the code."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from channels.web.schemas import (
    CodeRequest,
    ContestDetailOut,
    ContestOut,
    OrderOut,
    ReceiptOut,
    ResultsKeyOut,
    VoteCreatedOut,
    VoteRequest,
)
from gateway.core.texts import LANGUAGES


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, for programs: e.g. contest_not_found, invalid_request")
    message: str = Field(description="for people")
    field: str | None = Field(default=None, description="the request field at fault, when there is one")


class ErrorOut(BaseModel):
    error: ErrorDetail


class ContestListOut(BaseModel):
    contests: list[ContestOut]


class BoardRow(BaseModel):
    code: str
    name: str
    votes: int | None = Field(description="null while the organiser hides the counts")
    rank: int = Field(description="1 for the most votes; tied candidates share a rank")


class OverlayCueOut(BaseModel):
    """The broadcast overlay's cue, as the producer sets it in the control room."""

    shown: bool = Field(description="false: every overlay of the contest draws nothing")
    layout: Literal["board", "strip", "corner"] | None = Field(
        description="the layout every overlay shows; null: each its own (its `?layout=`, else the board)")


class BoardOut(BaseModel):
    """The leaderboard document (`leaderboard.board.public_board`); its SSE stream sends the same."""

    contest: str
    version: int = Field(description="grows with every change; also the ETag (0 while sealed)")
    updated_at: str | None = Field(description="the moment the tallies stand at: every vote counted before it is in "
                                               "them (ISO 8601, UTC; null while sealed)")
    sealed: bool = Field(description="sealed until the contest closes: no counts, no ranks, no candidates listed")
    total_votes: int | None
    candidates: list[BoardRow]
    overlay: OverlayCueOut


class ChallengeOut(BaseModel):
    """The work an entry code costs its asker first: find `nonce`, decimal digits, such that SHA-256 of the ASCII
    text "<salt>:<nonce>" begins with `bits` zero bits (2^bits tries on average), then send `challenge` and
    `nonce` with the code request, once, before `expires_at`."""

    challenge: str = Field(description="sent back as is with the code request")
    salt: str = Field(description="what is hashed, before a colon and the nonce")
    bits: int = Field(description="zero bits the digest must begin with: more as the contest's day's codes run low")
    algorithm: Literal["sha256"]
    expires_at: str = Field(description="ISO 8601, UTC: ten minutes after it was given")


class CodeSentOut(BaseModel):
    sent_to: str = Field(description="the number the code is texted to (E.164)")


MODELS: tuple[type[BaseModel], ...] = (VoteRequest, ContestListOut, ContestDetailOut, OrderOut, VoteCreatedOut,
                                       BoardOut, ErrorOut, ReceiptOut, ResultsKeyOut, ChallengeOut, CodeRequest,
                                       CodeSentOut)


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def answer(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(model)}}}


ERRORS = {
    "404": answer(ErrorOut, "no such contest or order"),
    "429": answer(ErrorOut, "too many attempts: try again later"),
}
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64},
        "example": "demo"}


def build() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    vote = {
        "summary": "Start a paid vote",
        "parameters": [SLUG, {"name": "Idempotency-Key", "in": "header", "required": False,
                              "schema": {"type": "string", "minLength": 1, "maxLength": 128,
                                         "pattern": "^[\\x20-\\x7e]+$"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref(VoteRequest)}}},
        "responses": {"201": answer(VoteCreatedOut, "the order, pending, and what the voter must do next"),
                      "400": answer(ErrorOut, "the body is not a JSON object"),
                      "413": answer(ErrorOut, "the body is too large"),
                      "415": answer(ErrorOut, "the body is not sent as application/json"),
                      "422": answer(ErrorOut, "the vote cannot be placed as asked (the field is named)"),
                      "503": answer(ErrorOut, "the payment service did not answer: try again"), **ERRORS},
    }
    challenge = {
        "summary": "The work an entry code costs: a challenge to solve before asking for the code (see ChallengeOut)",
        "parameters": [SLUG],
        "responses": {"200": answer(ChallengeOut, "a fresh challenge (never cached)"),
                      "409": answer(ErrorOut, "entries are not open for this contest"), **ERRORS}}
    code = {
        "summary": "Text a one-time code to a candidate's number (the proof of it: POST …/entries/proof); paid "
                   "first with a solved challenge, and counted against the contest's day's budget of codes",
        "parameters": [SLUG, {"name": "lang", "in": "query", "required": False,
                              "schema": {"type": "string", "enum": [lang.value for lang in LANGUAGES]}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref(CodeRequest)}}},
        "responses": {"202": answer(CodeSentOut, "the code is on its way"),
                      "400": answer(ErrorOut, "not a JSON object, not a number we can text, or not a mobile of a "
                                              "country the service runs in"),
                      "403": answer(ErrorOut, "no challenge (challenge_required), not solved or not this "
                                              "contest's (challenge_invalid), expired (challenge_expired) or used "
                                              "already (challenge_spent): nobody is texted"),
                      "409": answer(ErrorOut, "entries are not open for this contest"),
                      "413": answer(ErrorOut, "the body is too large"),
                      "415": answer(ErrorOut, "the body is not sent as application/json"),
                      "422": answer(ErrorOut, "a field is not as described (the field is named)"),
                      "429": answer(ErrorOut, "too many codes for this number or address, or the contest's day's "
                                              "codes are spent: try again later"),
                      "404": answer(ErrorOut, "no such contest, or it takes no entries")}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ballot public API", "version": "1"},
        "paths": {
            "/api/v1/contests": {"get": {"summary": "Contests the public may see",
                                         "responses": {"200": answer(ContestListOut, "contests")}}},
            "/api/v1/contests/{slug}": {"get": {"summary": "One contest and its active candidates",
                                                "parameters": [SLUG],
                                                "responses": {"200": answer(ContestDetailOut, "the contest"),
                                                              **ERRORS}}},
            "/api/v1/contests/{slug}/votes": {"post": vote},
            "/api/v1/contests/{slug}/entries/challenge": {"get": challenge},
            "/api/v1/contests/{slug}/entries/code": {"post": code},
            "/api/v1/contests/{slug}/leaderboard": {"get": {
                "summary": "The live board now (its stream: /api/v1/contests/{slug}/leaderboard/stream, SSE)",
                "parameters": [SLUG, {"name": "If-None-Match", "in": "header", "required": False,
                                      "schema": {"type": "string"}}],
                "responses": {"200": answer(BoardOut, "the board"),
                              "304": {"description": "unchanged since the ETag sent in If-None-Match"},
                              **ERRORS}}},
            "/api/v1/orders/{order_id}": {"get": {
                "summary": "A vote order's status",
                "parameters": [{"name": "order_id", "in": "path", "required": True,
                                "schema": {"type": "string", "maxLength": 64}}],
                "responses": {"200": answer(OrderOut, "the order"), **ERRORS}}},
            "/api/v1/receipts/{reference}": {"get": {
                "summary": "My vote counted: an order by the reference on its receipt, its ledger entries and "
                           "checkpoint (limited per address)",
                "parameters": [{"name": "reference", "in": "path", "required": True, "example": "1A2B3C4D",
                                "schema": {"type": "string", "maxLength": 64}}],
                "responses": {"200": answer(ReceiptOut, "what became of the order"),
                              "400": answer(ErrorOut, "not a reference (8 to 32 hexadecimal characters)"),
                              "409": answer(ErrorOut, "several orders share this short reference"),
                              **ERRORS}}},
            "/api/v1/results-key": {"get": {
                "summary": "The Ed25519 public key that checks every signed results sheet",
                "responses": {"200": answer(ResultsKeyOut, "the key")}}},
        },
        "components": {"schemas": schemas},
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi)
