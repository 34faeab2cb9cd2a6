"""Airtel Money as the assembly plugs it in (`AIRTEL`): a prompt on the payer's phone (the Collection API's USSD
push), refunds and payouts sent by Airtel itself (the Disbursement API, where its PIN is set: without it both go by
hand); the local sandbox in development while its credentials are unset.

No STATEMENT_LISTING: Airtel's Open API, as its public documentation and the clients we could read show it, has no
statement or transaction-list endpoint (Collection: the push, its enquiry, a refund by Airtel's id; Disbursement: the
payout and its enquiry; Account: the balance). The money check reads Airtel one reference at a time, every reference
we gave it being in our books; a payment into the merchant account that no push of ours asked for shows only on the
account's statement in Airtel's merchant portal."""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.core.money import Chargeable, ChargeRange
from gateway.core.providers import Capability
from gateway.kit.paced_turns import PacedTurns
from gateway.kit.phone_wallets import Carrier, PhoneWallet
from gateway.kit.provider_parts import ChatBot, Implementations, ProviderParts, ProviderResources
from gateway.kit.settings import MIN_PROVIDER_SECRET_LENGTH, secret_problem
from payments.airtel import routes
from payments.airtel.api import AirtelApi, AirtelCredentials
from payments.airtel.codes import CURRENCIES, NAME
from payments.airtel.collection import AirtelCollection
from payments.airtel.disbursement import AirtelDisbursement
from payments.airtel.settings import AirtelCollectionSettings, AirtelDisbursementSettings, AirtelSettings
from payments.local_sandbox import sandbox_address, sandbox_stand_in
from payments.settings import plain_addresses, revealed, secret_problems, unset_settings

TEST_HOSTS = frozenset({"openapiuat.airtel.africa"})  # Airtel's test system: production must never reach it
# What the local sandbox signs its callbacks with, and the PIN it takes (payments/sandbox/airtel).
SANDBOX_CALLBACK_KEY = "sandbox-airtel-callback-key"
SANDBOX_PIN = "sandbox-encrypted-pin"
# The currencies its wallets hold where it runs (an amount in major units, cents allowed); its minimum is per country
# and unpublished (its code 004 says an amount was under it).
CHARGES = Chargeable({currency: ChargeRange() for held in CURRENCIES.values() for currency in held}, others=None)


def airtel_credentials(settings: AirtelSettings, sandbox: str | None) -> AirtelCredentials | None:
    """Airtel's own credentials when all are set, else the sandbox's (`sandbox`: its URL, None: not here)."""
    if not unset_settings(AirtelCollectionSettings, settings):
        return AirtelCredentials(settings.airtel_money_base_url or "", settings.airtel_money_client_id or "",
                                 revealed(settings.airtel_money_client_secret))
    if sandbox is None:
        return None
    return AirtelCredentials(sandbox, "sandbox-client", "sandbox-secret")


def build(settings: AirtelSettings, resources: ProviderResources) -> Implementations:
    sandbox = sandbox_address(settings, NAME)
    if (credentials := airtel_credentials(settings, sandbox)) is None:
        return Implementations()
    in_sandbox = credentials.base_url == sandbox
    api = AirtelApi(resources.http, credentials, turns=PacedTurns(resources.redis),
                    per_second=settings.airtel_money_requests_per_second or None)
    key = SANDBOX_CALLBACK_KEY if in_sandbox else (revealed(settings.airtel_money_callback_key) or None)
    pin = SANDBOX_PIN if in_sandbox else revealed(settings.airtel_money_disbursement_pin)
    disbursement = AirtelDisbursement(api, pin) if pin else None
    return Implementations.one(AirtelCollection(api, key), refunds=disbursement, payouts=disbursement)


def missing_settings(settings: AirtelSettings) -> list[str]:
    return unset_settings(AirtelCollectionSettings, settings)


def production_problems(settings: AirtelSettings, in_use: bool) -> list[str]:
    """Its issued secrets where a contest uses it (the payouts' PIN whenever set); and, used or offered, its live
    system: a test system approves payments nobody made."""
    problems = secret_problems(AirtelCollectionSettings, settings) if in_use else []
    problems += secret_problems(AirtelDisbursementSettings, settings)
    if not in_use and missing_settings(settings):
        return problems
    if not missing_settings(settings) and (key_problem := callback_key_problem(settings)):
        problems.append(key_problem)
    if urlsplit(settings.airtel_money_base_url or "").hostname in TEST_HOSTS:
        problems.append("AIRTEL_MONEY_BASE_URL is Airtel's test system (openapiuat): set its live API's address "
                        "(https://openapi.airtel.africa)")
    return problems + plain_addresses(settings, "AIRTEL_MONEY_BASE_URL")


def callback_key_problem(settings: AirtelSettings) -> str | None:
    """Airtel's callbacks are told from anyone's by their hash alone (one URL for every order, no secret in it):
    without the key each only asks for an enquiry, slower, so production wants it, or a choice made on purpose."""
    if settings.airtel_money_callback_key is None:
        if settings.airtel_money_unhashed_callbacks:
            return None
        return ("AIRTEL_MONEY_CALLBACK_KEY unset: set the private key of the application's callback authentication "
                "(Airtel's portal), or AIRTEL_MONEY_UNHASHED_CALLBACKS=true to take callbacks unhashed (each then "
                "only asks for an enquiry, and a vote counts at the enquiry, later)")
    return secret_problem("AIRTEL_MONEY_CALLBACK_KEY", settings.airtel_money_callback_key, MIN_PROVIDER_SECRET_LENGTH)


def addresses(settings: AirtelSettings, chat_bot: ChatBot | None) -> list[str]:
    return [settings.airtel_money_base_url or "", f"{settings.sandbox_url.rstrip('/')}/{NAME}"]


AIRTEL = ProviderParts[AirtelSettings](
    NAME, "Airtel Money", frozenset({Capability.PHONE_PROMPT, Capability.REFUNDS_SENT, Capability.PAYOUTS}), build,
    charges=CHARGES, routes=routes.setup, missing_settings=missing_settings, production_problems=production_problems,
    addresses=addresses, stand_ins=(sandbox_stand_in(lambda settings: bool(missing_settings(settings))),),
    phone_wallet=PhoneWallet(sms_words=("AIRTEL",), carriers=(Carrier("airtel"),)))
