"""The typed keys of the app's shared state.

The keys of what every package may share: the foundation's types (and the jobs' loops, named for type
checking only, so that reading a key does not pull in the background work that fills it). The board's own keys
are in `leaderboard.keys`, the assembly's in `assembly.web.keys`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import httpx
import jinja2
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.asyncio import Redis
from rq import Queue
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.core.channel_reports import FailedMessages
from gateway.core.channel_settings import ChannelContestSettings
from gateway.core.media_storage import MediaStorage, PictureSize
from gateway.core.orders.count_batches import CountBatches
from gateway.core.providers import Providers
from gateway.db.engine import Sessions
from gateway.kit.phone_wallets import PhoneWallets
from gateway.kit.service_levels import LevelsSource, ServiceLevels
from gateway.kit.settings import ServiceSettings

if TYPE_CHECKING:
    from gateway.core.money_in.start_queue import PaymentStarts
    from gateway.jobs.check_queue import PaymentChecks
    from gateway.jobs.relay import RelayLoop
    from gateway.kit.channel_parts import BoundHowToVote

SETTINGS = web.AppKey("settings", ServiceSettings)  # the assembly's Settings: read a package's own with settings_of
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", Sessions)
REDIS = web.AppKey("redis", Redis)
HTTP = web.AppKey("http", httpx.AsyncClient)
QUEUE = web.AppKey("queue", Queue)
RELAY: web.AppKey[RelayLoop] = web.AppKey("relay")
PROVIDERS: web.AppKey[Providers] = web.AppKey("providers")  # the core's view of payments.registry
MEDIA_STORAGE: web.AppKey[MediaStorage] = web.AppKey("media_storage")  # where candidates' files are kept
CHECKS: web.AppKey[PaymentChecks] = web.AppKey("checks")
STARTS: web.AppKey[PaymentStarts] = web.AppKey("starts")
COUNT_BATCHES: web.AppKey[CountBatches | None] = web.AppKey("count_batches")  # the callbacks' group commit, if on
# The one thread that decodes uploaded photos in a web process (admin.photos): one decode at a time.
PHOTO_DECODER = web.AppKey("photo_decoder", ThreadPoolExecutor)
# What decodes one: a photo's bytes as a clean JPEG, or a DomainError (media.photos.reencode, set by the assembly).
PHOTO_REENCODE: web.AppKey[Callable[[bytes], bytes]] = web.AppKey("photo_reencode")
# The clean JPEG's smaller copies, by the size pages show them at (media.photos.sized, set by the assembly).
PHOTO_SIZER: web.AppKey[Callable[[bytes], Mapping[PictureSize, bytes]]] = web.AppKey("photo_sizer")
# The figures measured as the work happens (callback to tally, tally to board, providers' answers).
SERVICE_LEVELS = web.AppKey("service_levels", ServiceLevels)
# Where the control room reads them: this process's, or the host's sums where its processes share them.
LEVELS_SOURCE = web.AppKey("levels_source", LevelsSource)
STARTED_AT = web.AppKey("started_at", float)  # time.monotonic() when the app was built
RESULTS_KEY = web.AppKey("results_key", Ed25519PrivateKey)  # signs results sheets (assembly.resources.results_key)
# The channels' names, their own settings of a contest and their failed-message reports, from their
# `ChannelParts` (the app factory sets them: the admin area reads them here and imports no channel).
# The passes the worker runs by itself, by name: seconds after which one without a completed run is silent.
WATCHED_PASSES: web.AppKey[Mapping[str, int]] = web.AppKey("watched_passes")
CHANNEL_NAMES: web.AppKey[tuple[str, ...]] = web.AppKey("channel_names")  # an order's channel is one of these
CONTEST_SETTINGS: web.AppKey[tuple[ChannelContestSettings, ...]] = web.AppKey("contest_settings")
FAILED_MESSAGES: web.AppKey[tuple[FailedMessages, ...]] = web.AppKey("failed_messages")
# Each channel's line on how to vote for a candidate through it (`ChannelParts.how_to_vote`, bound to the app's
# settings), in the channels' order: a candidate's page reads them here and imports no other channel.
HOW_TO_VOTE: web.AppKey[tuple[BoundHowToVote, ...]] = web.AppKey("how_to_vote")
# The providers' wallets as phone voters know them (their `ProviderParts.phone_wallet`, the app factory sets them):
# the phone channels and the admin area read them here and name no provider.
PHONE_WALLETS = web.AppKey("phone_wallets", PhoneWallets)
# Admin area: its own template environment, apart from the public pages'.
ADMIN_TEMPLATES = web.AppKey("admin_templates", jinja2.Environment)
# The one exception to the 64 KB body cap and the refusal of multipart (assembly/web/middleware.py): a
# signed-in upload to a route the gate names. It answers the size allowed for the request, or None.
UPLOAD_GATE: web.AppKey[Callable[[web.Request], Awaitable[int | None]]] = web.AppKey("upload_gate")


SettingsModel = TypeVar("SettingsModel", bound=ServiceSettings)


def settings_of(app: web.Application, model: type[SettingsModel]) -> SettingsModel:
    """The app's settings as a package's own model (`settings_of(app, StripeSettings)`): the assembly's Settings
    is made of every package's model, so it is an instance of each; TypeError if the app was given settings
    without it."""
    settings = app[SETTINGS]
    if not isinstance(settings, model):
        raise TypeError(f"the app's settings ({type(settings).__name__}) are not {model.__name__}")
    return settings
