"""A paybill's C2B URLs, as we register them with Daraja (`payments.mpesa.c2b_register`): its validation (a payment
about to be made: refused when its account number names no candidate, before any money moves) and its confirmation
(the payment made: its votes counted once per M-Pesa receipt).

Daraja signs neither. Each URL carries the paybill's secret (`payments.mpesa.paths`), so a body on it is Safaricom's
word: a confirmation counts at once, and is checked again against the paybill's statement later (Pull Transactions,
`payments.mpesa.c2b_statement`), which takes back and flags one Safaricom never listed. A wrong secret is refused
(400), as on every other URL we give Daraja."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from gateway.core.money_in import paid_unasked
from gateway.core.money_in.paid_unasked import AccountRefusal, UnaskedOutcome, UnaskedPayment
from gateway.db.engine import Sessions
from gateway.kit.answers import error_body
from gateway.kit.keys import RELAY, SESSIONS, SETTINGS
from payments.answers import parsed_object
from payments.mpesa import c2b
from payments.mpesa.callback_secret import QUERY_NAME, callback_key, secret_holds
from payments.mpesa.paths import PREFIX, paybill_id
from payments.mpesa.paybills import contest_for, paybill_contests
from payments.mpesa.request_cap import NAME

log = logging.getLogger(__name__)
CONFIRMED = {"ResultCode": "0", "ResultDesc": "Accepted"}


def secret_wrong(request: web.Request) -> web.Response | None:
    key = callback_key(request.app[SETTINGS].secret_key.get_secret_value())
    if secret_holds(key, paybill_id(request.match_info["paybill"]), request.query.get(QUERY_NAME)):
        return None
    return error_body(400, "bad_secret", "This C2B URL is not one we registered with Daraja.")


async def notice_on_url(request: web.Request) -> c2b.C2bNotice | web.Response:
    """The body's notice, once the URL's secret holds and the body is about this URL's paybill."""
    if (refused := secret_wrong(request)) is not None:
        return refused
    notice = c2b.notice_of(parsed_object(await request.read()), datetime.now(UTC))
    if notice is None or notice.paybill != request.match_info["paybill"]:
        return error_body(400, "no_c2b_payment", "This body holds no C2B payment into this paybill.")
    return notice


async def validation(request: web.Request) -> web.Response:
    """Accept a payment whose account number names an active candidate of the paybill's open contest, at a vote's
    price at least (a whole number of votes where the contest gives a remainder back: Daraja reverses only whole
    payments); refuse any other before the money moves."""
    notice = await notice_on_url(request)
    if isinstance(notice, web.Response):
        return notice
    async with request.app[SESSIONS]() as session:
        contest = contest_for(await paybill_contests(session, notice.paybill), datetime.now(UTC))
    if contest is None:
        return web.json_response(c2b.rejection(AccountRefusal.NOT_OURS))
    verdict = await paid_unasked.check_account(request.app[SESSIONS], contest.contest_id, notice.account,
                                               notice.amount, c2b.CURRENCY,
                                               whole_votes_only=contest.remainder == "refund")
    return web.json_response(c2b.ACCEPTED if verdict.refusal is None else
                             c2b.rejection(verdict.refusal, verdict.price))


async def confirmation(request: web.Request) -> web.Response:
    """Count the payment's votes once (its receipt is the order's key), or keep it for a person (see
    gateway.core.money_in.paid_unasked); Daraja is told it was taken either way: the money moved."""
    notice = await notice_on_url(request)
    if isinstance(notice, web.Response):
        return notice
    outcome = await settle(request.app[SESSIONS], notice, source="confirmation", body=await request.read())
    if outcome in (UnaskedOutcome.COUNTED, UnaskedOutcome.HELD, UnaskedOutcome.REFUND_OWED):
        request.app[RELAY].kick()  # the board and the review queue hear of it now
    return web.json_response(CONFIRMED)


async def settle(sessions: Sessions, notice: c2b.C2bNotice, *, source: str, body: bytes) -> UnaskedOutcome:
    """The payment's order written and decided (once per receipt); a confirmation's is verified later against the
    statement, the statement's own is not."""
    async with sessions() as session:
        contest = contest_for(await paybill_contests(session, notice.paybill), notice.paid_at)
    if contest is None:  # kept raw and audited for a person, as money naming no candidate is
        await paid_unasked.note_unmatched(sessions, unasked_payment(notice, None, source, body))
        return UnaskedOutcome.UNMATCHED
    outcome, _ = await paid_unasked.settle_unasked(
        sessions, unasked_payment(notice, contest.contest_id, source, body), remainder=contest.remainder,
        verify_later=source == "confirmation")
    return outcome


def unasked_payment(notice: c2b.C2bNotice, contest_id: int | None, source: str, body: bytes) -> UnaskedPayment:
    return UnaskedPayment(
        NAME, c2b.CHANNEL, contest_id, notice.account, notice.amount, c2b.CURRENCY, notice.receipt,
        msisdn=notice.msisdn, payer_ref=notice.payer_ref, provider_data=c2b_data(notice), source=source,
        body=body.decode("utf-8", "replace"), paid_at=notice.paid_at)


def c2b_data(notice: c2b.C2bNotice) -> dict[str, object]:
    """What the order keeps of the payment (`payments.mpesa.c2b_statement` verifies it by these)."""
    return {c2b.PROVIDER_DATA: {"receipt": notice.receipt, "paybill": notice.paybill, "account": notice.account,
                                "paid_at": notice.paid_at.isoformat(),
                                "msisdn_shown": notice.shown_number}}


def setup(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/c2b/validation/{{paybill:[0-9]{{5,7}}}}", validation)
    app.router.add_post(f"{PREFIX}/c2b/confirmation/{{paybill:[0-9]{{5,7}}}}", confirmation)

