"""M-Pesa as the assembly plugs it in (`MPESA`): a prompt on the payer's phone (STK Push) for every channel, refunds
by Reversal and payouts by B2C where its initiator is set, and the shortcode's C2B payments listed for the money
check (Pull Transactions); a contest's paybill (its own setting of a contest), where votes are paid from the M-Pesa
menu with the candidate's code as the account number (C2B: `payments.mpesa.c2b_routes`, its passes in
`payments.mpesa.c2b_passes`), and the line that tells voters so; the local sandbox in development while its
credentials are unset."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from gateway.core.money import Chargeable, ChargeRange
from gateway.core.providers import Capability
from gateway.core.worker_passes import WorkerPass
from gateway.kit.paced_turns import PacedTurns
from gateway.kit.phone_wallets import Carrier, PhoneWallet
from gateway.kit.provider_parts import ChatBot, Implementations, ProviderParts, ProviderResources
from payments.local_sandbox import sandbox_address, sandbox_stand_in
from payments.mpesa import routes
from payments.mpesa.api import DarajaApi, DarajaCredentials
from payments.mpesa.c2b_passes import register_pass, statement_pass
from payments.mpesa.callback_secret import callback_key
from payments.mpesa.collections import MpesaCollections
from payments.mpesa.how_to_vote import how_to_vote
from payments.mpesa.money_out import MpesaMoneyOut
from payments.mpesa.outgoing_results import OutgoingResults
from payments.mpesa.paths import FORBIDDEN
from payments.mpesa.paybills import PAYBILL_SETTINGS
from payments.mpesa.request_cap import DARAJA_CAP, NAME, RESEND_DELAYS
from payments.mpesa.settings import MpesaMoneyOutSettings, MpesaSettings, MpesaStkSettings
from payments.mpesa.stk_push import CURRENCY
from payments.paced_requests import PacedRequests
from payments.settings import plain_addresses, revealed, secret_problems, unset_settings

SANDBOX_HOSTS = frozenset({"sandbox.safaricom.co.ke"})  # Daraja's test system: production must never reach it
# M-Pesa as phone voters know it: the words they text (`M-PESA`, split by the SMS channel's reading, is read whole),
# and the networks whose wallet it is: Safaricom's (Kenya, Ethiopia), Vodacom's where it runs M-Pesa (Tanzania, DR
# Congo, Mozambique, Lesotho; not South Africa, where Vodacom closed M-Pesa in 2016).
PHONE_WALLET = PhoneWallet(
    sms_words=("MPESA", "M-PESA", "PESA"),
    carriers=(Carrier("safaricom"), Carrier("vodacom", frozenset({"TZ", "CD", "MZ", "LS"}))))
# What the local sandbox knows: its shortcode and passkey are Daraja's own public test ones.
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
SANDBOX_INITIATOR_PASSWORD = "Safaricom999!*!"  # the sandbox's initiator, as Daraja's test credentials go
# Daraja's STK Push takes whole shillings (an Amount of 1 to 250,000): KES 10.50 fails every payment, so a contest
# priced so is refused at its save (gateway.core.contests.chargeable_prices).
CHARGES = Chargeable({CURRENCY: ChargeRange(least=100, most=25_000_000, step=100)}, others=None)


def stk_parts(settings: MpesaSettings, sandbox: str | None) -> tuple[DarajaCredentials, str, str] | None:
    """The app's credentials, the shortcode and its passkey: M-Pesa's own when all are set, else the sandbox's."""
    if not unset_settings(MpesaStkSettings, settings):
        return (DarajaCredentials(settings.mpesa_base_url or "", settings.mpesa_consumer_key or "",
                                  revealed(settings.mpesa_consumer_secret)),
                settings.mpesa_shortcode or "", revealed(settings.mpesa_passkey))
    if sandbox is None:
        return None
    return DarajaCredentials(sandbox, "sandbox-consumer-key", "sandbox-consumer-secret"), SANDBOX_SHORTCODE, \
        SANDBOX_PASSKEY


def build(settings: MpesaSettings, resources: ProviderResources) -> Implementations:
    parts = stk_parts(settings, sandbox_address(settings, NAME))
    if parts is None:
        return Implementations()
    credentials, shortcode, passkey = parts
    requests = PacedRequests(resources.http, credentials.consumer_key, DARAJA_CAP, turns=PacedTurns(resources.redis),
                             per_second=settings.mpesa_requests_per_second or None, resend_delays=RESEND_DELAYS)
    api = DarajaApi(requests, credentials)
    key = callback_key(settings.secret_key.get_secret_value())
    push = MpesaCollections(api, shortcode, passkey, settings.public_base_url, key, party_b=settings.mpesa_party_b,
                            redis=resources.redis, register_path=settings.mpesa_c2b_register_path)
    money_out = money_out_of(settings, resources, api, shortcode, key, sandbox=credentials.base_url
                             if unset_settings(MpesaStkSettings, settings) else None)
    return Implementations.one(push, refunds=money_out, payouts=money_out)


def money_out_of(settings: MpesaSettings, resources: ProviderResources, api: DarajaApi, shortcode: str, key: bytes,
                 *, sandbox: str | None) -> MpesaMoneyOut | None:
    """The initiator's reversals and B2C payments: M-Pesa's own when all is set, the sandbox's (whose certificate
    it serves) in development; None where neither is (refunds and payouts by hand)."""
    results = OutgoingResults(resources.redis)
    if not unset_settings(MpesaMoneyOutSettings, settings):
        path = settings.mpesa_certificate_path or ""

        async def certificate() -> bytes:
            with open(path, "rb") as source:
                return source.read()

        return MpesaMoneyOut(api, results, initiator=settings.mpesa_initiator_name or "",
                             password=revealed(settings.mpesa_initiator_password), certificate=certificate,
                             shortcode=settings.mpesa_b2c_shortcode or shortcode,
                             public_base_url=settings.public_base_url, callback_key=key,
                             status_query_after=settings.mpesa_status_query_after_seconds)
    if sandbox is None:
        return None

    async def sandbox_certificate() -> bytes:
        response = await resources.http.get(f"{sandbox}/sandbox/certificate")
        response.raise_for_status()
        return response.content

    return MpesaMoneyOut(api, results, initiator="sandbox-initiator", password=SANDBOX_INITIATOR_PASSWORD,
                         certificate=sandbox_certificate, shortcode=shortcode,
                         public_base_url=settings.public_base_url, callback_key=key,
                         status_query_after=settings.mpesa_status_query_after_seconds)


def missing_settings(settings: MpesaSettings) -> list[str]:
    return unset_settings(MpesaStkSettings, settings)


def production_problems(settings: MpesaSettings, in_use: bool) -> list[str]:
    """Its issued secrets where a contest uses it; and, used or offered, its live system: Daraja's sandbox
    approves payments nobody made."""
    problems = secret_problems(MpesaStkSettings, settings) if in_use else []
    if not in_use and missing_settings(settings):
        return problems
    if urlsplit(settings.mpesa_base_url or "").hostname in SANDBOX_HOSTS:
        problems.append("MPESA_BASE_URL is Daraja's sandbox: set its live API's address (https://api.safaricom.co.ke)")
    if FORBIDDEN.search(settings.public_base_url):  # every URL Daraja calls starts with it, and Daraja drops them
        problems.append("PUBLIC_BASE_URL names M-Pesa or Safaricom, which Daraja refuses in every URL it calls back: "
                        "serve the site under an address without those words")
    return problems + plain_addresses(settings, "MPESA_BASE_URL")


def addresses(settings: MpesaSettings, chat_bot: ChatBot | None) -> list[str]:
    return [settings.mpesa_base_url or "", f"{settings.sandbox_url.rstrip('/')}/{NAME}"]


MPESA = ProviderParts[MpesaSettings](
    NAME, "M-Pesa", frozenset({Capability.PHONE_PROMPT, Capability.REFUNDS_SENT, Capability.PAYOUTS,
                        Capability.STATEMENT_LISTING, Capability.PIN_PROMPT, Capability.PROMPT_AGAIN,
                        Capability.RECEIPT_CODE}), build,
    charges=CHARGES, routes=routes.setup,
    passes=(WorkerPass(f"{NAME}-register-paybills", register_pass, every=300),
            WorkerPass(f"{NAME}-read-paybill-statements", statement_pass, every=60)),
    missing_settings=missing_settings, production_problems=production_problems, addresses=addresses,
    stand_ins=(sandbox_stand_in(lambda settings: bool(missing_settings(settings))),),
    contest_settings=PAYBILL_SETTINGS, migrations=Path(__file__).with_name("migrations"), how_to_vote=how_to_vote,
    phone_wallet=PHONE_WALLET)
