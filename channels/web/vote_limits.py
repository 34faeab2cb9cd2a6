"""How many votes the web takes a minute (the form and the JSON API together): per client address, per payer number,
per browser.

An address is one person's unless the core says many people share it (`VoteService.address_is_shared`: a mobile
operator's carrier-grade NAT, or an address it learned, as the fraud rules judge it). Thousands of subscribers
reach us through one carrier address, so it gets a crowd's allowance; behind it each payer number and each browser
still gets one person's, which is what bounds one abuser there. A vote naming neither (a card vote through the API,
which has no browser of ours) counts against one person's allowance at its address: nothing else would bound a
script there. The core is asked only once an address has spent a person's allowance in the minute, so an ordinary
vote pays no lookup for it.
"""

from __future__ import annotations

from aiohttp import web

from channels.web.settings import WebSettings
from gateway.core.errors import RateLimited
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.core.service import VOTE_SERVICE
from gateway.kit import throttle
from gateway.kit.keys import REDIS, settings_of

VOTE_WINDOW = 60  # seconds; the limits are per minute


def payer_key(msisdn: str | None) -> str | None:
    """The payer number as the limit counts it (E.164: one number however it is written); None if there is none
    or it is no number (the vote is refused for that anyway)."""
    if not msisdn:
        return None
    try:
        return normalise_msisdn(msisdn)
    except InvalidMsisdn:
        return None


# What a refused vote is told (the JSON API's message), by the allowance it spent.
SPENT = {
    "address": "Too many votes from this address; please try again in a minute.",
    "payer": "Too many votes from this number; please try again in a minute.",
    "browser": "Too many votes from this browser; please try again in a minute.",
}


async def spent_allowance(request: web.Request, *, msisdn: str | None, browser: str | None) -> str | None:
    """Count a vote against its address's allowance, then one person's for its payer number and its browser (or, if
    it names neither, for its address's votes that name nobody); the allowance it found spent (a key of SPENT), or
    None: the vote may go on. With Redis away votes go on (PostgreSQL's limits hold).

    An ordinary vote is counted in one round trip (`throttle.first_then_each`); past one person's allowance at its
    address, the core is asked whether many people share it before the vote's people are counted."""
    address = throttle.client_address(request)
    settings = settings_of(request.app, WebSettings)
    redis, person = request.app[REDIS], settings.web_votes_per_minute
    payer = payer_key(msisdn)
    people = [("payer", f"web-vote-payer:{payer}")] if payer else []
    people += [("browser", f"web-vote-browser:{browser}")] if browser else []
    people = people or [("address", f"web-vote-nobody:{address}")]
    counted = await throttle.first_then_each(redis, f"web-vote:{address}", [key for _, key in people], person,
                                             VOTE_WINDOW)
    if counted is None:
        return None
    at_address, past = counted
    if at_address <= person:
        return people[past - 1][0] if past else None
    if at_address > settings.web_votes_per_shared_address_minute:
        return "address"
    if not await request.app[VOTE_SERVICE].address_is_shared(address):
        return "address"
    for allowance, key in people:
        if not await throttle.hit(redis, key, person, VOTE_WINDOW):
            return allowance
    return None


async def enforce(request: web.Request, *, msisdn: str | None, browser: str | None) -> None:
    """RateLimited (429), naming the allowance spent, unless the vote may go on."""
    if spent := await spent_allowance(request, msisdn=msisdn, browser=browser):
        raise RateLimited(SPENT[spent])
