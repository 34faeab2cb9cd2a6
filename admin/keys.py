"""The admin area's own app keys: what the assembly hands it (the channels' names, their settings of a contest and
their failed-message reports, from their `ChannelParts`, so the area imports no channel; where the control room
reads the service levels and which passes it watches) and what the area keeps (its templates)."""

from __future__ import annotations

from collections.abc import Mapping

import jinja2
from aiohttp import web

from gateway.core.channel_reports import FailedMessages
from gateway.core.channel_settings import ChannelContestSettings
from gateway.kit.service_levels import LevelsSource

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
