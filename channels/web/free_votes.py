"""Free votes on the web (`/api/v1/contests/{slug}/free-votes…`): a number proven by a code texted to it, as an
entry's is (gateway.kit.phone_proof and its proof of work, gateway.kit.code_work; the proof is good for this purpose
only), then a free vote for a candidate (gateway.core.orders.free_votes), judged with the client's address (the
address blocklist) as a paid web vote is. No provider, no payment page, no order."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, Field

from channels.web import number_proof
from channels.web.entry_api import ProofRequest, body, e164
from channels.web.free_vote_texts import FREE_VOTE_ERRORS
from channels.web.market_texts import example_number
from channels.web.number_proof_texts import error_texts
from channels.web.pages import contest_missing
from channels.web.rendering import html_errors, message_page, page_for, render
from channels.web.schemas import CodeRequest
from gateway.core.contests.catalog import PublicContest
from gateway.core.errors import DomainError, NotFound
from gateway.core.orders import free_votes
from gateway.core.service import VOTE_SERVICE
from gateway.db.models import CandidateStatus
from gateway.kit import phone_proof
from gateway.kit.keys import SESSIONS, SETTINGS
from gateway.kit.throttle import client_address

routes = web.RouteTableDef()
PURPOSE = "free_vote"
CHANNEL = "web"


class FreeVoteBody(BaseModel):
    proof: str = Field(max_length=2000)
    candidate: str = Field(max_length=8)


async def giving_contest(request: web.Request) -> tuple[PublicContest, int]:
    """The contest and its codes a day if it gives free votes now; a 4xx otherwise, before any text is paid for."""
    slug = request.match_info["slug"]
    contest = await request.app[VOTE_SERVICE].contest(slug)  # NotFound for no such contest
    if await free_votes.free_terms(request.app[SESSIONS], slug) is None:
        raise free_votes.NoFreeVotes("This contest gives no free vote now.")
    settings = request.app[SETTINGS]
    # A contest's codes a day: as many as its entries' default, never above the service's ceiling.
    return contest, min(settings.entry_codes_default_per_day, settings.entry_codes_per_day)


def proven(request: web.Request, proof: str) -> str:
    number = phone_proof.proven_number(request.app[SETTINGS].secret_key.get_secret_value(), proof, PURPOSE,
                                       datetime.now(UTC))
    if number is None:
        raise DomainError("Prove your number with the code we text you first (or again: proofs expire).",
                          code="number_not_proven", field="proof")
    return number


@routes.get("/c/{slug}/free-vote", name="free_vote")
@html_errors
async def free_vote_page(request: web.Request) -> web.StreamResponse:
    """The form: a number, the code texted to it, a candidate (static/free_vote.js drives the steps through the API
    below)."""
    page = page_for(request)
    slug = request.match_info["slug"]
    try:
        contest = await request.app[VOTE_SERVICE].contest(slug)
    except NotFound:
        return contest_missing(request)
    terms = await free_votes.free_terms(request.app[SESSIONS], slug)
    if terms is None:
        return message_page(page, 404, page.tr("free_title", contest=contest.name), page.tr("free_none"))
    candidates = [(c.code, c.name) for c in contest.candidates if c.status is CandidateStatus.ACTIVE]
    data = {"slug": slug, "lang": page.tr.lang}
    strings: dict[str, object] = {key: page.tr(key) for key in ("enter_preparing_code", "free_done")}
    strings["errors"] = error_texts(page.tr, FREE_VOTE_ERRORS)
    return render(page, "free_vote.html", {"contest": contest, "terms": terms, "candidates": candidates,
                                           "data": data, "strings": strings,
                                           "example_number": example_number(contest.country)})


@routes.get("/api/v1/contests/{slug}/free-votes/challenge")
async def challenge(request: web.Request) -> web.Response:
    """The work a code request pays first (as an entry's: `GET …/entries/challenge`)."""
    contest, per_day = await giving_contest(request)
    return await number_proof.challenge(request, PURPOSE, request.match_info["slug"], f"contest:{contest.id}",
                                        per_day)


@routes.post("/api/v1/contests/{slug}/free-votes/code")
async def send_code(request: web.Request) -> web.Response:
    asked = await body(request, CodeRequest)
    contest, per_day = await giving_contest(request)
    msisdn = e164(asked.msisdn, contest.country)
    return await number_proof.send_code(request, asked, msisdn, PURPOSE, request.match_info["slug"],
                                        f"contest:{contest.id}", per_day,
                                        lambda lang, code: free_votes.code_text(lang, code, contest.name))


@routes.post("/api/v1/contests/{slug}/free-votes/proof")
async def prove_number(request: web.Request) -> web.Response:
    asked = await body(request, ProofRequest)
    contest = await request.app[VOTE_SERVICE].contest(request.match_info["slug"])
    msisdn = e164(asked.msisdn, contest.country)  # as its code was sent: the same number, whichever way it is written
    proof = await number_proof.proof_of(request, msisdn, PURPOSE, asked.code)
    left = await free_votes.free_votes_left(request.app[SESSIONS], request.match_info["slug"], msisdn)
    return web.json_response({"proof": proof, "msisdn": msisdn, "free_votes_left": left})


@routes.post("/api/v1/contests/{slug}/free-votes")
async def take(request: web.Request) -> web.Response:
    """A free vote for the proven number: 201 with what is left, or the core's refusal (409 `free_vote_used`, 422
    `msisdn_blocked`, `address_blocked`, `no_free_votes`…), nothing recorded."""
    asked = await body(request, FreeVoteBody)
    msisdn = proven(request, asked.proof)
    taken = await free_votes.take_free_vote(request.app[SESSIONS], free_votes.FreeVoteRequest(
        request.match_info["slug"], asked.candidate.strip(), msisdn, CHANNEL, voter_address=client_address(request)))
    return web.json_response({"free_vote_id": str(taken.id), "candidate": taken.candidate_code,
                              "candidate_name": taken.candidate_name, "free_votes_left": taken.left,
                              "per": taken.per.value}, status=201)
