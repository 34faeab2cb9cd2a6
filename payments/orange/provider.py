"""Orange Money as the assembly plugs it in (`ORANGE`): two ways to pay behind one name, a prompt pushed to the
payer's phone for the channels that push one (its merchant-payment API, where set up) and its WebPay page for every
other; the local sandbox in development while its credentials are unset. No API of its own refunds or pays out."""

from __future__ import annotations

from aiohttp import web

from gateway.core.money import Chargeable, ChargeRange
from gateway.core.providers import Capability
from gateway.kit.paced_turns import PacedTurns
from gateway.kit.phone_wallets import Carrier, NumberBlocks, PhoneWallet
from gateway.kit.provider_parts import ChatBot, Implementations, ProviderParts, ProviderResources
from gateway.kit.settings import MIN_CALLBACK_TOKEN_LENGTH
from payments.callbacks import answer_callback, order_id_from_path
from payments.local_sandbox import sandbox_address, sandbox_stand_in
from payments.orange.push import OrangePush, PushCredentials
from payments.orange.settings import OrangePushSettings, OrangeSettings, OrangeWebPaySettings
from payments.orange.webpay import NAME, OrangeWebPay, WebPayCredentials
from payments.settings import plain_addresses, revealed, secret_problems, unset_settings

# Orange Money's live countries of WebPay and the Cameroon push take francs CFA, whole (its dev system takes only its
# test currency, whatever the order's); it publishes no minimum or maximum.
CHARGES = Chargeable({"XAF": ChargeRange(), "XOF": ChargeRange()}, others=None)
# Orange Money as phone voters know it: the words they text (`VOTE 07 5 OM`), and its network's numbers: Cameroon's
# blocks from its plan (the 65x and 68x blocks are split with MTN, and carrier data lags behind such splits),
# elsewhere the numbers of the carriers named Orange.
PHONE_WALLET = PhoneWallet(
    sms_words=("OM", "ORANGE"),
    number_blocks=(NumberBlocks("+237", 9, (*(f"65{d}" for d in "56789"), *(f"68{d}" for d in "56789"), "69")),),
    carriers=(Carrier("orange"),))
SANDBOX_COUNTRY = "dev"  # WebPay's test system: production must never reach it (`production_problems`)


def webpay_credentials(webpay: OrangeSettings, sandbox: str | None) -> WebPayCredentials | None:
    if not unset_settings(OrangeWebPaySettings, webpay):
        base = webpay.orange_money_base_url or ""
        return WebPayCredentials(base, webpay.orange_money_token_url or f"{base.rstrip('/')}/oauth/v3/token",
                                 webpay.orange_money_client_id or "", revealed(webpay.orange_money_client_secret),
                                 revealed(webpay.orange_money_merchant_key), webpay.orange_money_country)
    if sandbox is None:
        return None
    return WebPayCredentials(sandbox, f"{sandbox}/oauth/v3/token", "sandbox-client", "sandbox-secret",
                             "sandbox-merchant", "dev")


def push_credentials(push: OrangeSettings, sandbox: str | None) -> PushCredentials | None:
    if not unset_settings(OrangePushSettings, push):
        return PushCredentials(
            push.orange_money_push_base_url or "", push.orange_money_push_consumer_key or "",
            revealed(push.orange_money_push_consumer_secret), push.orange_money_push_username or "",
            revealed(push.orange_money_push_password), push.orange_money_channel_msisdn or "",
            revealed(push.orange_money_pin))
    if sandbox is None:
        return None
    return PushCredentials(sandbox, "sandbox-key", "sandbox-secret", "sandbox-user", "sandbox-pass",
                           "699000000", "1234")


def build(settings: OrangeSettings, resources: ProviderResources) -> Implementations:
    sandbox = sandbox_address(settings, NAME)
    webpay, push = webpay_credentials(settings, sandbox), push_credentials(settings, sandbox)
    # One schedule per application, whichever of its APIs a request goes to (`payments.orange.request_cap`).
    turns, cap = PacedTurns(resources.redis), settings.orange_money_requests_per_second
    return Implementations(
        other=None if webpay is None else OrangeWebPay(resources.http, webpay, settings.public_base_url, turns=turns,
                                                       requests_per_second=cap),
        pushed=None if push is None else OrangePush(resources.http, push, settings.public_base_url, turns=turns,
                                                    requests_per_second=cap))


def missing_settings(settings: OrangeSettings) -> list[str]:
    """WebPay's (its push is optional: without it, the phone channels are told Orange is unavailable there)."""
    return unset_settings(OrangeWebPaySettings, settings)


def production_problems(settings: OrangeSettings, in_use: bool) -> list[str]:
    """WebPay's issued secrets where a contest uses it, the push's whenever they are set; and the live systems of
    what is used or offered (all its credentials set): a sandbox's payments are no money."""
    problems = secret_problems(OrangeWebPaySettings, settings) if in_use else []
    problems += secret_problems(OrangePushSettings, settings, MIN_CALLBACK_TOKEN_LENGTH)
    if in_use or not missing_settings(settings):
        if settings.orange_money_country.strip().lower() == SANDBOX_COUNTRY:
            problems.append("ORANGE_MONEY_COUNTRY is 'dev' (its default), Orange WebPay's sandbox: set the live "
                            "API's country (e.g. cm)")
        problems += plain_addresses(settings, "ORANGE_MONEY_BASE_URL", "ORANGE_MONEY_TOKEN_URL")
    if not unset_settings(OrangePushSettings, settings):
        problems += plain_addresses(settings, "ORANGE_MONEY_PUSH_BASE_URL")
    return problems


def addresses(settings: OrangeSettings, chat_bot: ChatBot | None) -> list[str]:
    return [settings.orange_money_base_url or "", settings.orange_money_token_url or "",
            settings.orange_money_push_base_url or "", f"{settings.sandbox_url.rstrip('/')}/{NAME}"]


async def orange_notification(request: web.Request) -> web.Response:
    """WebPay's and the push's notifications alike, on the URL we gave for the order."""
    return await answer_callback(request, NAME, order_id_from_path(request))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/payments/orange/notify/{order_id}", orange_notification)


ORANGE = ProviderParts[OrangeSettings](
    NAME, "Orange Money", frozenset({Capability.PHONE_PROMPT, Capability.REDIRECT}), build, routes=setup_routes,
    charges=CHARGES, missing_settings=missing_settings, production_problems=production_problems, addresses=addresses,
    stand_ins=(sandbox_stand_in(lambda settings: bool(missing_settings(settings))),), phone_wallet=PHONE_WALLET)
