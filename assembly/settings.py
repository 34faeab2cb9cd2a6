"""`Settings`: every setting of the service, composed from the kit's base and each package's own model (a new
package with settings adds its model to the bases), read once from the environment and passed down; and the
production check composed from each package's problems."""

from __future__ import annotations

from collections.abc import Sequence

from channels.sms.settings import SmsSettings
from channels.telegram.settings import TelegramSettings, webhook_secret_problem
from channels.ussd.settings import UssdSettings
from channels.web.settings import WebSettings
from gateway.kit.settings import (
    DEV_SECRET_KEY,
    ConfigError,
    Environment,
    Network,
    check_servers,
    metrics_token_problem,
    results_key_problem,
    secret_problem,
    service_problems,
)
from leaderboard.settings import BoardSettings
from media.settings import CloudinarySettings, cloudinary_problems
from media.storage_settings import MediaSettings, media_problems
from payments.settings import PaymentSettings, live_problems, provider_problems, push_secret_problems

__all__ = ["DEV_SECRET_KEY", "ConfigError", "Environment", "Network", "Settings", "check_production",
           "check_servers", "secret_problem"]


class Settings(PaymentSettings, BoardSettings, UssdSettings, SmsSettings, TelegramSettings, WebSettings, MediaSettings,
               CloudinarySettings):
    """Every setting of the service; environment names match the architecture note. A package's settings are its
    own model in its folder (payments/settings.py, leaderboard/settings.py, channels/<name>/settings.py), each a
    `ServiceSettings` (gateway/kit/settings.py), so a package reads them typed as its own."""


def check_production(settings: Settings, providers_in_use: set[str], channel_problems: Sequence[str] = ()) -> None:
    """Refuse to run production with a default or weak secret, a used provider lacking credentials, a provider
    pointed at its sandbox, or what a channel reports (`ChannelParts.production_problems`: e.g. open USSD routes)."""
    if not settings.is_production:
        return
    problems = service_problems(settings)
    problems += [problem for problem in (webhook_secret_problem(settings), metrics_token_problem(settings)) if problem]
    problems += push_secret_problems(settings)
    problems.extend(channel_problems)
    if problem := results_key_problem(settings):
        problems.append(problem)
    problems += provider_problems(settings, providers_in_use)
    problems += live_problems(settings, providers_in_use)
    problems += media_problems(settings)
    if settings.media_storage == "cloudinary":
        problems += cloudinary_problems(settings)
    if problems:
        raise ConfigError("refusing to start in production: " + "; ".join(problems))
