"""A candidate's page (`/c/<contest>/<code>`): their clip, how to vote for them on every channel the contest has,
the vote form for them, and a short link to share (`/s/<short>`). Plain HTML: it works without JavaScript, on a
cheap phone, and its share card (share.py) makes a shared link show who and how to vote.

Each channel writes its own line (`ChannelParts.how_to_vote`, handed over by the assembly under HOW_TO_VOTE):
the web imports no other channel and knows no short code or dial syntax."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from channels.web.pages import VoteForm, contest_missing, vote_form_context
from channels.web.rendering import Page, html_errors, message_page, page_for, render
from channels.web.share import base62, candidate_share, from_base62, rendition_size, share_links
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.errors import NotFound
from gateway.core.service import VOTE_SERVICE
from gateway.kit.channel_parts import VoteHint
from gateway.kit.keys import PROVIDERS, SESSIONS

if TYPE_CHECKING:
    from gateway.kit.channel_parts import BoundHowToVote

# Each channel's line on how to vote for a candidate through it (`ChannelParts.how_to_vote`, bound to the app's
# settings), in the channels' order: a candidate's page reads them here and imports no other channel.
HOW_TO_VOTE: web.AppKey[tuple[BoundHowToVote, ...]] = web.AppKey("how_to_vote")
log = logging.getLogger(__name__)
routes = web.RouteTableDef()
HD = "720"  # ?q=720: the page plays the 720p rendition


async def vote_hints(app: web.Application, contest: PublicContest, code: str, lang: str) -> list[VoteHint]:
    """Every channel's line for this candidate, in the channels' order. A channel that fails is left out (and
    logged): the page and the other channels' lines still show."""
    hints: list[VoteHint] = []
    async with app[SESSIONS]() as session:
        for how_to_vote in app[HOW_TO_VOTE]:
            try:
                hint = await how_to_vote(session, contest, code, lang, app[PROVIDERS])
            except Exception:
                log.exception("a channel's how-to-vote line failed for %s/%s", contest.slug, code)
                await session.rollback()
                continue
            if hint is not None:
                hints.append(hint)
    return hints


def candidate_missing(page: Page) -> web.Response:
    return message_page(page, 404, page.tr("not_found_title"), page.tr("candidate_not_found"))


@routes.get("/c/{slug}/{code:[0-9]{1,8}}", name="candidate_page")
@html_errors
async def candidate_page(request: web.Request) -> web.StreamResponse:
    try:
        contest = await request.app[VOTE_SERVICE].contest(request.match_info["slug"], channel_fields=True,
                                                          clips=True)
    except NotFound:
        return contest_missing(request)
    page = page_for(request, contest.default_language)
    # Hidden and eliminated candidates are not among a public contest's: their page is not found either.
    candidate = next((c for c in contest.candidates if c.code == request.match_info["code"]), None)
    if candidate is None:
        return candidate_missing(page)
    return await candidate_response(page, contest, candidate)


async def candidate_response(page: Page, contest: PublicContest, candidate: PublicCandidate) -> web.Response:
    request, tr = page.request, page.tr
    context, token = vote_form_context(page, contest, [candidate], VoteForm(candidate=candidate.code).renewed(), {})
    hints = await vote_hints(request.app, contest, candidate.code, tr.lang)
    card = candidate_share(request, contest, candidate, tr, [hint.text for hint in hints])
    short_url = card.url.removesuffix(f"/c/{contest.slug}/{candidate.code}") + f"/s/{base62(candidate.id)}"
    clip = candidate.clip
    hd = clip is not None and clip.mp4_720p is not None and request.query.get("q") == HD
    width, height = rendition_size(clip.width, clip.height, 720 if hd else 360) if clip else (None, None)
    context.update(
        candidate=candidate, clip=clip, hd=hd, video_src=(clip.mp4_720p if hd else clip.mp4_360p) if clip else None,
        video_width=width or 640, video_height=height or 360, hints=hints, card=card, short_url=short_url,
        share=share_links(short_url, tr("cand_share_text", name=candidate.name, contest=contest.name)))
    return render(page, "candidate.html", context, token=token)


@routes.get("/s/{short:[0-9A-Za-z]{1,6}}", name="candidate_short")
@html_errors
async def short_link(request: web.Request) -> web.StreamResponse:
    """A shared short link: to the candidate's page for good (301), while they are shown in a public contest."""
    candidate_id = from_base62(request.match_info["short"])
    found = await request.app[VOTE_SERVICE].candidate_ref(candidate_id) if candidate_id is not None else None
    if found is None:
        return candidate_missing(page_for(request))
    slug, code = found
    raise web.HTTPMovedPermanently(f"/c/{slug}/{code}")
