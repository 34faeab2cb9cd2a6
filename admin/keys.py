"""The admin area's own app keys: what the assembly hands it (the channels' names, their settings of a contest and
their failed-message reports, from their `ChannelParts`, so the area imports no channel; the photo re-encoder and
sizer of `media.photos`; where the control room reads the service levels and which passes it watches) and what the
area keeps (its templates, its photo thread, the upload gate the assembly's middleware asks)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import jinja2
from aiohttp import web

from gateway.core.channel_reports import FailedMessages
from gateway.core.channel_settings import ChannelContestSettings
from gateway.core.media_storage import PictureSize
from gateway.kit.service_levels import LevelsSource

# The one thread that decodes uploaded photos in a web process (admin.photos): one decode at a time.
PHOTO_DECODER = web.AppKey("photo_decoder", ThreadPoolExecutor)
# What decodes one: a photo's bytes as a clean JPEG, or a DomainError (media.photos.reencode, set by the assembly).
PHOTO_REENCODE: web.AppKey[Callable[[bytes], bytes]] = web.AppKey("photo_reencode")
# The clean JPEG's smaller copies, by the size pages show them at (media.photos.sized, set by the assembly).
PHOTO_SIZER: web.AppKey[Callable[[bytes], Mapping[PictureSize, bytes]]] = web.AppKey("photo_sizer")
# Where the control room reads the service levels: this process's, or the host's sums where its processes share them.
LEVELS_SOURCE = web.AppKey("levels_source", LevelsSource)
# The passes the worker runs by itself, by name: seconds after which one without a completed run is silent.
WATCHED_PASSES: web.AppKey[Mapping[str, int]] = web.AppKey("watched_passes")
# The channels' names, their own settings of a contest and their failed-message reports, from their
# `ChannelParts` (the app factory sets them: the admin area reads them here and imports no channel).
CHANNEL_NAMES: web.AppKey[tuple[str, ...]] = web.AppKey("channel_names")  # an order's channel is one of these
CONTEST_SETTINGS: web.AppKey[tuple[ChannelContestSettings, ...]] = web.AppKey("contest_settings")
FAILED_MESSAGES: web.AppKey[tuple[FailedMessages, ...]] = web.AppKey("failed_messages")
# Admin area: its own template environment, apart from the public pages'.
ADMIN_TEMPLATES = web.AppKey("admin_templates", jinja2.Environment)
# The one exception to the 64 KB body cap and the refusal of multipart (assembly/web/middleware.py): a
# signed-in upload to a route the gate names. It answers the size allowed for the request, or None.
UPLOAD_GATE: web.AppKey[Callable[[web.Request], Awaitable[int | None]]] = web.AppKey("upload_gate")
