"""The typed keys of the app's shared state.

The keys of what several packages share: the foundation's types (and the jobs' loops, named for type checking
only, so that reading a key does not pull in the background work that fills it). A key one package alone reads
lives in that package, the assembly setting it from there: the board's in `leaderboard.keys`, the admin area's in
`admin.keys`, the callbacks' in `payments.callbacks`, a candidate page's in `channels.web.candidate_pages`, the web
process's own in `assembly.web.keys`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import httpx
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.asyncio import Redis
from rq import Queue

from gateway.core.media_storage import MediaStorage
from gateway.core.providers import Providers
from gateway.db.engine import Sessions
from gateway.kit.phone_wallets import PhoneWallets
from gateway.kit.settings import ServiceSettings

if TYPE_CHECKING:
    from gateway.jobs.check_queue import PaymentChecks
    from gateway.jobs.relay import RelayLoop

SETTINGS = web.AppKey("settings", ServiceSettings)  # the assembly's Settings: read a package's own with settings_of
SESSIONS = web.AppKey("sessions", Sessions)
REDIS = web.AppKey("redis", Redis)
HTTP = web.AppKey("http", httpx.AsyncClient)
QUEUE = web.AppKey("queue", Queue)
RELAY: web.AppKey[RelayLoop] = web.AppKey("relay")
PROVIDERS: web.AppKey[Providers] = web.AppKey("providers")  # the core's view of payments.registry
MEDIA_STORAGE: web.AppKey[MediaStorage] = web.AppKey("media_storage")  # where candidates' files are kept
CHECKS: web.AppKey[PaymentChecks] = web.AppKey("checks")
# What was just built to live as long as the process (a part made at its first use, not at start-up), kept out of
# every later collection, as `gateway web` keeps its start-up's: set there only (tests must see each app's leaks).
KEEP_BUILT: web.AppKey[Callable[[], None]] = web.AppKey("keep_built")
RESULTS_KEY = web.AppKey("results_key", Ed25519PrivateKey)  # signs results sheets (assembly.resources.results_key)
# The providers' wallets as phone voters know them (their `ProviderParts.phone_wallet`, the app factory sets them):
# the phone channels and the admin area read them here and name no provider.
PHONE_WALLETS = web.AppKey("phone_wallets", PhoneWallets)


SettingsModel = TypeVar("SettingsModel", bound=ServiceSettings)


def settings_of(app: web.Application, model: type[SettingsModel]) -> SettingsModel:
    """The app's settings as a package's own model (`settings_of(app, StripeSettings)`): the assembly's Settings
    is made of every package's model, so it is an instance of each; TypeError if the app was given settings
    without it."""
    settings = app[SETTINGS]
    if not isinstance(settings, model):
        raise TypeError(f"the app's settings ({type(settings).__name__}) are not {model.__name__}")
    return settings
