"""MTN MoMo as the assembly plugs it in (`MTN`): a prompt on the payer's phone (Collection), refunds and payouts sent
by MTN itself (Disbursement, where its subscription is set), both accounts' balances; the local sandbox in
development while its credentials are unset."""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.core.money import Chargeable, ChargeRange
from gateway.core.providers import Capability
from gateway.kit.phone_wallets import Carrier, NumberBlocks, PhoneWallet
from gateway.kit.provider_parts import ChatBot, Implementations, ProviderParts, ProviderResources
from payments.local_sandbox import sandbox_address, sandbox_stand_in
from payments.mtn import routes
from payments.mtn.api import NAME, MtnApi, MtnCredentials
from payments.mtn.callback_secret import callback_key
from payments.mtn.collection import MtnMomoCollection
from payments.mtn.disbursement import MtnDisbursement
from payments.mtn.settings import MtnCollectionSettings, MtnDisbursementSettings, MtnSettings
from payments.settings import plain_addresses, revealed, secret_problems, unset_settings

# What MTN's test systems are called: production must never reach one (`live_problems`).
SANDBOX_ENVIRONMENT = "sandbox"
SANDBOX_HOSTS = frozenset({"sandbox.momodeveloper.mtn.com"})
# MTN takes the amount as a string of major units in the currency of the country its account is in (the sandbox EUR
# only), and publishes no minimum or maximum: its limits are per account, its refusals come per payment. Its MoMo
# countries' currencies: CFA francs (Cameroon, Congo, Côte d'Ivoire, Benin, Guinea-Bissau), cedis, Ugandan and Rwandan
# francs and shillings, kwacha, Guinean francs, Liberian dollars, emalangeni, naira; none of Kenya's or Tanzania's.
CHARGES = Chargeable({currency: ChargeRange() for currency in ("XAF", "XOF", "GHS", "UGX", "RWF", "ZMW", "GNF",
                                                                "LRD", "SZL", "NGN", "EUR")}, others=None)

# MoMo as phone voters know it: the words they text (`VOTE 07 5 MOMO`), and its network's numbers: Cameroon's blocks
# from its plan (the 65x and 68x blocks are split with Orange, and carrier data lags behind such splits), elsewhere
# the numbers of the carriers named MTN.
PHONE_WALLET = PhoneWallet(
    sms_words=("MTN", "MOMO"),
    number_blocks=(NumberBlocks("+237", 9, (*(f"65{d}" for d in "01234"), *(f"68{d}" for d in "01234"), "67")),),
    carriers=(Carrier("mtn"),))


def mtn_credentials(mtn: MtnSettings, sandbox: str | None) -> MtnCredentials | None:
    """MTN's own credentials when all are set, else the sandbox's (`sandbox`: its URL, None: not here)."""
    if not unset_settings(MtnCollectionSettings, mtn):
        return MtnCredentials(mtn.mtn_momo_base_url or "", revealed(mtn.mtn_momo_subscription_key),
                              mtn.mtn_momo_api_user or "", revealed(mtn.mtn_momo_api_key),
                              mtn.mtn_momo_target_environment)
    if sandbox is None:
        return None
    # The local sandbox stands in for production MTN too, so it takes XAF (MTN's own sandbox takes only EUR).
    return MtnCredentials(sandbox, "sandbox-subscription-key", "sandbox-api-user", "sandbox-api-key", "sandbox")


def disbursement_credentials(settings: MtnSettings, collection: MtnCredentials | None,
                             sandbox: str | None) -> MtnCredentials | None:
    """The Disbursement product's own subscription, on the Collection's host and environment; the sandbox's in
    development (only where the Collection is the sandbox's too)."""
    if collection is None:
        return None
    if not unset_settings(MtnDisbursementSettings, settings):
        return MtnCredentials(collection.base_url, revealed(settings.mtn_disbursement_subscription_key),
                              settings.mtn_disbursement_api_user or "",
                              revealed(settings.mtn_disbursement_api_key), collection.target_environment)
    if sandbox is None or collection.base_url != sandbox:
        return None
    return MtnCredentials(sandbox, "sandbox-disbursement-key", "sandbox-payout-user", "sandbox-payout-key",
                          "sandbox")


def build(settings: MtnSettings, resources: ProviderResources) -> Implementations:
    sandbox = sandbox_address(settings, NAME)
    if (credentials := mtn_credentials(settings, sandbox)) is None:
        return Implementations()
    key = callback_key(settings.secret_key.get_secret_value())  # keyed callback URLs
    collection = MtnMomoCollection(resources.http, credentials, settings.public_base_url,
                                   status_calls_per_second=settings.mtn_momo_status_calls_per_second or None,
                                   callback_key=key)
    payouts = disbursement_credentials(settings, credentials, sandbox)
    disbursement = (MtnDisbursement(MtnApi(resources.http, payouts, "disbursement"), settings.public_base_url, key)
                    if payouts is not None else None)
    return Implementations.one(collection, refunds=disbursement, payouts=disbursement)


def missing_settings(settings: MtnSettings) -> list[str]:
    return unset_settings(MtnCollectionSettings, settings)


def production_problems(settings: MtnSettings, in_use: bool) -> list[str]:
    """Its issued secrets where a contest uses it; and, used or offered (all its credentials set), its live system:
    a sandbox approves payments nobody made, so a show pointed at one would count votes for no money."""
    problems = secret_problems(MtnCollectionSettings, settings) if in_use else []
    if not in_use and missing_settings(settings):
        return problems
    if settings.mtn_momo_target_environment.strip().lower() == SANDBOX_ENVIRONMENT:
        problems.append("MTN_MOMO_TARGET_ENVIRONMENT is 'sandbox' (its default), MTN's test system: voters "
                        "would get no prompt and votes no money; set the live environment MTN gave for the "
                        "country (e.g. mtncameroon)")
    if urlsplit(settings.mtn_momo_base_url or "").hostname in SANDBOX_HOSTS:
        problems.append("MTN_MOMO_BASE_URL is MTN's sandbox: set its live API's address (e.g. "
                        "https://proxy.momoapi.mtn.com)")
    return problems + plain_addresses(settings, "MTN_MOMO_BASE_URL")


def addresses(settings: MtnSettings, chat_bot: ChatBot | None) -> list[str]:
    return [settings.mtn_momo_base_url or "", f"{settings.sandbox_url.rstrip('/')}/{NAME}"]


MTN = ProviderParts[MtnSettings](
    NAME, "MTN MoMo", frozenset({Capability.PHONE_PROMPT, Capability.REFUNDS_SENT, Capability.PAYOUTS}), build,
    charges=CHARGES, routes=routes.setup, missing_settings=missing_settings, production_problems=production_problems,
    addresses=addresses, stand_ins=(sandbox_stand_in(lambda settings: bool(missing_settings(settings))),),
    phone_wallet=PHONE_WALLET)
