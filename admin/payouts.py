"""Payouts on a contest's settlement page: its payout account (a wallet proven by a code texted to it, or a bank
account), requests up to the balance, and an owner's decision: approved with a fresh TOTP code by an owner who did
not ask (gateway.core.money_out.payouts), declined, or, for one paid by hand, marked paid with the transfer's proof."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from aiohttp import web

from admin.money_fields import amounts_in_minor
from admin.pages.contests import contest_id
from admin.settlements import CONTEST, changed, show, whole
from admin.signin import code_confirms
from admin.texts import gettext_for, language_of
from admin.totp_keys import TOTP_KEYS
from admin.web import form_of, guarded
from gateway.core.audit import Actor
from gateway.core.contests.scope import contest_in_scope
from gateway.core.errors import DomainError, Forbidden, NotFound
from gateway.core.money_out import payouts
from gateway.core.phone import InvalidMsisdn, normalise_msisdn, textable_in
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.core.providers import Capability
from gateway.core.worker_passes import enqueue_pass
from gateway.db.models import BANK_ACCOUNT, Payout
from gateway.kit import phone_proof
from gateway.kit.keys import PROVIDERS, QUEUE, REDIS, SESSIONS, SETTINGS
from gateway.kit.throttle import client_address

routes = web.RouteTableDef()
PURPOSE = "payout-account"
PAYOUT = CONTEST + "/settlement/payouts/{payout_id:[0-9a-f-]{36}}"


def kind_of(request: web.Request, form: dict[str, object]) -> str:
    """A bank account, or a wallet of a provider that charges one (`Capability.PHONE_PROMPT`)."""
    kind, wallets = str(form.get("kind") or ""), request.app[PROVIDERS].having(Capability.PHONE_PROMPT)
    if kind != BANK_ACCOUNT and kind not in wallets:
        labels = ", ".join(request.app[PROVIDERS].label(name) for name in wallets)
        raise DomainError(f"The account: a wallet ({labels}) or a bank account.", code="invalid_field", field="kind")
    return kind


async def wallet_number(request: web.Request, actor: Actor, form: dict[str, object]) -> str:
    """A mobile number of the contest's country, read as its people write it (`0712 000 102` in Kenya): its
    providers pay wallets of their own country only, and the code is texted there. 404 for a contest not theirs."""
    async with request.app[SESSIONS]() as session:
        country = (await contest_in_scope(session, actor, contest_id(request))).country
    try:
        msisdn = normalise_msisdn(str(form.get("msisdn") or ""), country)
    except InvalidMsisdn:
        raise DomainError("That is not a phone number we can text.", code="invalid_msisdn", field="msisdn") from None
    if not textable_in(msisdn, frozenset({country})):
        raise DomainError("A mobile-money wallet's number: a mobile of the contest's country, where its providers "
                          "pay.", code="number_not_served", field="msisdn")
    return msisdn


@routes.post(CONTEST + "/settlement/payout-account/code")
@guarded("payouts.request")
async def send_code(request: web.Request, actor: Actor) -> web.StreamResponse:
    """Text a code to the wallet's number; the page then asks for it."""
    form = dict(await form_of(request))
    try:
        if kind_of(request, form) == BANK_ACCOUNT:
            raise DomainError("A bank account needs no code.", code="invalid_field", field="kind")
        msisdn = await wallet_number(request, actor, form)  # their contest's, or 404
        code = await phone_proof.new_code(request.app[REDIS], msisdn, PURPOSE, client_address(request),
                                          per_day=request.app[SETTINGS].payout_codes_per_day)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await show(request, actor, exc.message, exc.status)
    _ = gettext_for(language_of(request))
    text = _("Ballot: {code} is the code to receive payouts on this number. Nobody from Ballot asks for it.",
             code=code)
    await asyncio.to_thread(enqueue_pass, request.app[QUEUE], TEXT_CODE_PASS, msisdn, text, str(uuid.uuid4()),
                            job_timeout=120, result_ttl=60, failure_ttl=phone_proof.CODE_SECONDS)
    return await show(request, actor, code_sent_to=(kind_of(request, form), msisdn))


@routes.post(CONTEST + "/settlement/payout-account")
@guarded("payouts.request")
async def set_account(request: web.Request, actor: Actor) -> web.StreamResponse:
    async def change(form: dict[str, object]) -> None:
        kind, holder = kind_of(request, form), str(form.get("holder") or "")
        if kind == BANK_ACCOUNT:
            draft = payouts.AccountDraft(kind, holder, bank_details=str(form.get("bank_details") or ""))
        else:
            msisdn = await wallet_number(request, actor, form)
            await phone_proof.prove(request.app[REDIS], request.app[SETTINGS].secret_key.get_secret_value(), msisdn,
                                    PURPOSE, str(form.get("code") or ""), datetime.now(UTC))
            draft = payouts.AccountDraft(kind, holder, msisdn=msisdn, proven=True)
        await payouts.set_account(request.app[SESSIONS], actor, contest_id(request), draft)
    return await changed(request, actor, change)


@routes.post(CONTEST + "/settlement/payouts")
@guarded("payouts.request")
async def request_payout(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await changed(request, actor, lambda form: _requested(request, actor, form))


async def _requested(request: web.Request, actor: Actor, form: dict[str, object]) -> None:
    """The amount typed in major units of the payout's currency ("10.50" shillings); the API's in minor units."""
    currency = str(form.get("currency") or "")
    typed = amounts_in_minor(form, ("amount",), currency, language_of(request))
    await payouts.request_payout(request.app[SESSIONS], actor, contest_id(request), currency, whole(typed, "amount"))


def payout_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["payout_id"])
    except ValueError:  # the route's pattern lets 36 hex digits and dashes through in any arrangement
        raise NotFound("No such payout.", code="payout_not_found") from None


async def approve_with_code(request: web.Request, actor: Actor, form: Mapping[str, object]) -> Payout:
    """The approver's fresh authenticator code first (page or API alike): approving moves money."""
    if not await code_confirms(request.app[SESSIONS], request.app[TOTP_KEYS], actor.admin_id,
                               str(form.get("code") or "")):
        raise Forbidden("That code is not a fresh one of your authenticator: approving moves money, enter the "
                        "code it shows now.", code="wrong_code", field="code")
    return await payouts.approve_payout(request.app[SESSIONS], request.app[PROVIDERS], actor, contest_id(request),
                                        payout_id(request))


@routes.post(PAYOUT + "/approve")
@guarded("money.manage")
async def approve(request: web.Request, actor: Actor) -> web.StreamResponse:
    async def change(form: dict[str, object]) -> None:
        await approve_with_code(request, actor, form)
    return await changed(request, actor, change)


@routes.post(PAYOUT + "/decline")
@guarded("money.manage")
async def decline(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await changed(request, actor, lambda form: payouts.decline_payout(
        request.app[SESSIONS], actor, contest_id(request), payout_id(request),
        str(form.get("reason") or "declined")[:500]))


@routes.post(PAYOUT + "/paid")
@guarded("money.manage")
async def paid_by_hand(request: web.Request, actor: Actor) -> web.StreamResponse:
    return await changed(request, actor, lambda form: payouts.mark_paid(
        request.app[SESSIONS], actor, contest_id(request), payout_id(request), str(form.get("proof") or "")))
