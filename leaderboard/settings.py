"""The board's settings, one of the bases of the assembly's `Settings`."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from gateway.kit.settings import ServiceSettings, secret_problem

# Written into nginx's configuration as it is (deploy/nchan.conf.template): letters, digits, `-` and `_` only, as
# `openssl rand -hex 32` or Python's `secrets.token_urlsafe` make them.
PUBLISH_SECRET_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")


class BoardSettings(ServiceSettings):
    # Live board streams: per address and process (carriers put many viewers behind one address),
    # and the heartbeat that keeps proxies from closing an idle stream.
    streams_per_ip: int = Field(default=100, ge=1)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # A fan-out server's publisher location (Nchan, deploy/nchan.conf), e.g. http://fanout:8091/board/: each
    # board frame is then published there once, and the front sends the stream's path to the server's
    # viewers' side. Empty: each web process streams to its own viewers (the embedded default).
    board_fanout_url: str = ""
    # What the fan-out server asks of every publisher's request (its X-Board-Publish-Secret header), so that only
    # the service puts frames on the board: the same value in the web processes and the fan-out servers. Required
    # in production with BOARD_FANOUT_URL; in development one is made once in GATEWAY_DATA_DIR.
    board_fanout_secret: SecretStr | None = None

    @field_validator("board_fanout_url")
    @classmethod
    def _ends_in_slash(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("BOARD_FANOUT_URL must be an http(s) URL of the fan-out server's publisher location")
        return url if not url or url.endswith("/") else url + "/"

    @field_validator("board_fanout_secret")
    @classmethod
    def _fits_nginx(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and secret.get_secret_value() and not PUBLISH_SECRET_CHARACTERS.fullmatch(
                secret.get_secret_value()):
            raise ValueError("BOARD_FANOUT_SECRET must be letters, digits, '-' and '_' only "
                             "(e.g. `openssl rand -hex 32`)")
        return secret


def fanout_secret_problem(settings: BoardSettings) -> str | None:
    """Production's publisher proves itself to the fan-out server with a secret of its own, never a made one."""
    if not settings.board_fanout_url:
        return None
    return secret_problem("BOARD_FANOUT_SECRET", settings.board_fanout_secret)
