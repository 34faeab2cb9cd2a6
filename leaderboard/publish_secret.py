"""The secret the service's frames carry to the fan-out server (BOARD_FANOUT_SECRET); in development, one made once
in the data folder, which `gateway fanout` and the web processes of the same folder both read."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

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
    """Made on first use, kept (owner-only). Several processes may start at once: each writes one of its own aside,
    the first to link it in place wins."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32))
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process made it first: its secret is the secret
        finally:
            aside.unlink()
    return path.read_text().strip()
