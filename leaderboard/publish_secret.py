"""The secret the service's frames carry to the fan-out server (BOARD_FANOUT_SECRET); in development, one made once
in the data folder, which `gateway fanout` and the web processes of the same folder both read."""

from __future__ import annotations

import secrets
from pathlib import Path

from gateway.kit.kept_file import kept_file
from leaderboard.settings import BoardSettings

HEADER = "X-Board-Publish-Secret"  # deploy/nchan.conf.template refuses a publisher's request without it
DEV_SECRET_FILE = "fanout-publish-secret"


class MissingPublishSecret(RuntimeError):
    """Production without BOARD_FANOUT_SECRET: the message names it."""


def publish_secret(settings: BoardSettings) -> str:
    """BOARD_FANOUT_SECRET, else (development only) this data folder's own."""
    if settings.board_fanout_secret is not None and settings.board_fanout_secret.get_secret_value():
        return settings.board_fanout_secret.get_secret_value()
    if settings.is_production:
        raise MissingPublishSecret("BOARD_FANOUT_SECRET must be set: the fan-out server takes frames only with it")
    return development_secret(Path(settings.gateway_data_dir) / DEV_SECRET_FILE)


def development_secret(path: Path) -> str:
    """Made on first use and kept (owner-only), the first process's for every process of the folder."""
    return kept_file(path, lambda: secrets.token_urlsafe(32).encode()).decode().strip()
