"""`Settings`: every setting of the service, composed from the kit's base and each package's own model (a new
package with settings adds its model to the bases), read once from the environment and passed down; and the
production check composed from each package's problems."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from admin.settings import AdminSettings, totp_keys_problem
from channels.sms.settings import SmsSettings
from channels.telegram.settings import TelegramSettings, webhook_secret_problem
from channels.ussd.settings import UssdSettings
from channels.web.settings import WebSettings
from gateway.kit.settings import (
    DEV_SECRET_KEY,
    ConfigError,
    Environment,
    Network,
    ServiceSettings,
    check_servers,
    metrics_token_problem,
    results_key_problem,
    secret_problem,
    service_problems,
)
from leaderboard.settings import BoardSettings, fanout_secret_problem
from media.settings import CloudinarySettings, cloudinary_problems
from media.storage_settings import MediaSettings, media_problems
from payments.airtel.settings import AirtelSettings
from payments.mpesa.settings import MpesaSettings
from payments.mtn.settings import MtnSettings
from payments.orange.settings import OrangeSettings
from payments.stars.settings import StarsSettings
from payments.stripe.settings import StripeSettings

if TYPE_CHECKING:
    from gateway.kit.provider_parts import ProviderParts

__all__ = ["DEV_SECRET_KEY", "ConfigError", "Environment", "LivenessSettings", "Network", "Settings",
           "check_production", "check_servers", "secret_problem"]


class LivenessSettings(ServiceSettings):
    """How long the service's own processes may go without showing they run: `gateway run`'s supervisor replaces a
    web process or worker silent for `gateway_frozen_after_seconds` (assembly/machine/liveness.py), and a worker's
    main loop is allowed its longest Redis call between two marks of progress (assembly/worker/rq_worker.py).
    Production keeps the defaults; the tests set them short, so a replacement they wait for takes seconds."""

    # A web process or worker beats about once a second (assembly/machine/heartbeat.py), and one merely slow (a
    # burst, a machine whose cores are all taken) misses a beat or two, never ten: silent this long, it is frozen.
    # Under three beats, a slow process would be taken for a frozen one and killed.
    gateway_frozen_after_seconds: float = Field(default=10.0, ge=3.0)
    # A worker's one blocking wait for a job in Redis, after which its loop marks progress and waits again. At least
    # a second: Redis reads a wait of 0 as "for ever", which would stop the worker's beats.
    gateway_worker_dequeue_seconds: int = Field(default=5, ge=1)
    # How long a worker's Redis call waits for an answer past that wait, and to connect: a Redis host lost in a
    # partition answers nothing, and the worker gives the call up after these rather than be held (and replaced).
    gateway_worker_redis_answer_seconds: int = Field(default=10, ge=1)
    gateway_worker_redis_connect_seconds: int = Field(default=5, ge=1)


class Settings(MtnSettings, OrangeSettings, AirtelSettings, MpesaSettings, StripeSettings, StarsSettings, BoardSettings,
               UssdSettings, SmsSettings, TelegramSettings, WebSettings, MediaSettings, CloudinarySettings,
               AdminSettings, LivenessSettings):
    """Every setting of the service; environment names match the architecture note. A package's settings are its
    own model in its folder (payments/<provider>/settings.py, leaderboard/settings.py, channels/<name>/settings.py),
    each a `ServiceSettings` (gateway/kit/settings.py), so a package reads them typed as its own."""


def provider_problems(settings: Settings, providers_in_use: set[str],
                      providers: Sequence[ProviderParts[Any]] | None = None) -> list[str]:
    """What stops production for each provider: the settings it needs unset while a contest uses it, then what it
    reports itself (secrets that could not be real, a sandbox where its live system belongs). `providers`: every one
    unless named, imported only here: a command that reads its settings needs none of the providers' code."""
    if providers is None:
        from assembly.provider_list import PROVIDERS
        providers = PROVIDERS
    problems: list[str] = []
    for parts in providers:
        in_use = parts.name in providers_in_use
        if in_use and (missing := parts.missing_settings(settings)):
            problems.append(f"provider '{parts.name}' is enabled by a contest but {', '.join(missing)} unset")
        if parts.production_problems is not None:
            problems += parts.production_problems(settings, in_use)
    return problems


def check_production(settings: Settings, providers_in_use: set[str], channel_problems: Sequence[str] = (),
                     providers: Sequence[ProviderParts[Any]] | None = None) -> None:
    """Refuse to run production with a default or weak secret, what a provider reports (`provider_problems`: a used
    one lacking credentials, one pointed at its sandbox), or what a channel reports
    (`ChannelParts.production_problems`: e.g. open USSD routes)."""
    if not settings.is_production:
        return
    problems = service_problems(settings)
    problems += [problem for problem in (webhook_secret_problem(settings), metrics_token_problem(settings),
                                         fanout_secret_problem(settings)) if problem]
    problems.extend(channel_problems)
    if problem := results_key_problem(settings):
        problems.append(problem)
    if problem := totp_keys_problem(settings):
        problems.append(problem)
    problems += provider_problems(settings, providers_in_use, providers)
    problems += media_problems(settings)
    if settings.media_storage == "cloudinary":
        problems += cloudinary_problems(settings)
    if problems:
        raise ConfigError("refusing to start in production: " + "; ".join(problems))
