"""`gateway mpesa register-urls` and `gateway mpesa paybill`: a contest's paybill (payments.mpesa.paybills) from a
terminal. The first registers each live paybill's C2B URLs with Daraja now (the worker does it every five minutes;
the same URLs again change nothing); the second pays a contest's paybill as a customer would from the M-Pesa menu,
through the local sandbox's simulate (Daraja's own exists only in its sandbox too), and says what became of it:
`gateway mpesa paybill --contest demo-kenya --account 07 --amount 3000 --phone 0712000102`."""

from __future__ import annotations

import argparse
import asyncio
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings
from gateway.kit.outbound_tls import verified_tls

if TYPE_CHECKING:
    from gateway.db.engine import Sessions
    from payments.mpesa.api import DarajaApi

WAIT_FOR_ORDER = 15.0  # seconds: the confirmation reaches the running service, which writes the order


def sandbox_api(settings: Settings, http: Any) -> DarajaApi:
    from payments.local_sandbox import sandbox_address
    from payments.mpesa.api import DarajaApi, DarajaCredentials
    from payments.mpesa.provider import missing_settings
    from payments.mpesa.request_cap import DARAJA_CAP, NAME
    from payments.paced_requests import PacedRequests

    address = sandbox_address(settings, NAME)
    if address is None or not missing_settings(settings):
        raise SystemExit("gateway mpesa paybill pays through the local sandbox: M-Pesa's credentials are set here "
                         "(Daraja simulates payments only in its own sandbox).")
    requests = PacedRequests(http, "sandbox-consumer-key", DARAJA_CAP, turns=None, per_second=None, resend_delays=())
    return DarajaApi(requests, DarajaCredentials(address, "sandbox-consumer-key", "sandbox-consumer-secret"))


async def paybill_of(sessions: Sessions, slug: str) -> tuple[int, str]:
    from assembly.commands.contests import find_contest
    from payments.mpesa.paybills import PAYBILL_SETTINGS

    contest = await find_contest(sessions, slug)
    async with sessions() as session:
        paybill = (await PAYBILL_SETTINGS.load(session, [contest.id]))[contest.id].paybill
    if not paybill:
        raise SystemExit(f"Contest {contest.slug} has no M-Pesa paybill: set one on its page (Paybill number).")
    return contest.id, paybill


async def order_of(sessions: Sessions, receipt: str) -> Any:
    from gateway.core.money_in.paid_unasked import order_of_receipt
    from gateway.db.models import VoteOrder

    deadline = asyncio.get_running_loop().time() + WAIT_FOR_ORDER
    while asyncio.get_running_loop().time() < deadline:
        order_id = await order_of_receipt(sessions, "mpesa", receipt)
        if order_id is not None:
            async with sessions() as session:
                order = await session.get(VoteOrder, order_id)
            if order is not None and order.status.value != "pending":
                return order
        await asyncio.sleep(0.2)
    return None


def cmd_paybill(settings: Settings, args: argparse.Namespace) -> int:
    import httpx

    from gateway.core.phone import normalise_msisdn
    from payments.mpesa.c2b_register import C2bRegistration
    from payments.mpesa.callback_secret import callback_key

    phone = normalise_msisdn(args.phone, "KE")
    key = callback_key(settings.secret_key.get_secret_value())

    async def pay(sessions: Sessions) -> list[str]:
        _, paybill = await paybill_of(sessions, args.contest)
        async with httpx.AsyncClient(timeout=20, verify=verified_tls()) as http:
            api = sandbox_api(settings, http)
            await C2bRegistration(api, settings.public_base_url, key, None).register(paybill)
            response = await api.post("/mpesa/c2b/v1/simulate", {
                "ShortCode": paybill, "CommandID": "CustomerPayBillOnline", "Amount": args.amount,
                "Msisdn": phone.removeprefix("+"), "BillRefNumber": args.account})
        made = response.json().get("sandbox", {}) if response.status_code == 200 else {}
        if response.status_code != 200:
            return [f"the sandbox refused the payment ({response.status_code}): {response.text}"]
        receipt = made.get("TransID")
        if not receipt:
            return [f"refused before any money moved: {made.get('validation')}"]
        lines = [f"paid KES {args.amount} to paybill {paybill}, account {args.account}: M-Pesa receipt {receipt}"]
        order = await order_of(sessions, receipt)
        if order is None:
            return [*lines, f"no decided order yet after {WAIT_FOR_ORDER:.0f} s: is the service running "
                            "(make run)? The worker's statement pass counts it within a minute."]
        return [*lines, f"order {order.id}: {order.status.value}, {order.quantity} votes"
                        + (f" ({order.status_reason or order.hold_reason})" if order.status.value != "paid" else "")]

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        print("\n".join(with_database(settings, pay)))
    return 0


def cmd_register(settings: Settings, args: argparse.Namespace) -> int:
    import httpx

    from gateway.kit.provider_parts import ProviderResources
    from payments.mpesa.collections import MpesaCollections
    from payments.mpesa.paybills import live_paybills
    from payments.mpesa.provider import build

    del args

    async def register(sessions: Sessions) -> list[str]:
        async with sessions() as session:
            paybills = await live_paybills(session)
        async with httpx.AsyncClient(timeout=20, verify=verified_tls()) as http:
            mpesa = build(settings, ProviderResources(http)).other
            if not isinstance(mpesa, MpesaCollections):
                return ["M-Pesa is not set up here (its credentials, or the sandbox in development)"]
            return [f"paybill {paybill}: {await mpesa.registration.register(paybill, again=True)}"
                    for paybill in paybills] or ["no contest open or to come has a paybill"]

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        print("\n".join(with_database(settings, register)))
    return 0


def add(sub: Subcommands) -> None:
    mpesa = sub.add_parser("mpesa", help="M-Pesa paybills: register their URLs, pay one from the sandbox"
                           ).add_subparsers(dest="mpesa_command", required=True)
    paybill = mpesa.add_parser("paybill", help="pay a contest's paybill as from the M-Pesa menu (the local sandbox)")
    paybill.add_argument("--contest", required=True, metavar="SLUG", help="the contest whose paybill is paid")
    paybill.add_argument("--account", required=True, help="the account number typed: a candidate's code")
    paybill.add_argument("--amount", required=True, type=int, help="whole shillings")
    paybill.add_argument("--phone", required=True, help="the payer's Kenyan number (0712…, 254712… or +254712…)")
    paybill.set_defaults(func=cmd_paybill)
    register = mpesa.add_parser("register-urls", help="register every live paybill's C2B URLs with Daraja now")
    register.set_defaults(func=cmd_register)
