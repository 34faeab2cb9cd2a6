"""docker-compose.yml asks for every secret production refuses to start without: `docker compose up` stops at once
naming the one missing, rather than the web replicas starting, refusing and restarting for ever."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

from assembly.settings import Settings, check_production

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
REQUIRED = re.compile(r"\$\{(?P<name>[A-Z_]+):\?[^}]*\}")  # ${NAME:?message}: Compose stops without it
DEFAULT = re.compile(r"\$\{(?P<name>[A-Z_]+):?-(?P<default>[^}]*)\}")  # ${NAME-default}


def a_good_value(name: str) -> str:
    """What an operator following the file's comments would set."""
    if name == "RESULTS_SIGNING_KEY":
        return base64.b64encode(os.urandom(32)).decode()
    if name == "ADMIN_TOTP_KEYS":
        return Fernet.generate_key().decode()
    if name == "PUBLIC_BASE_URL":
        return "https://vote.example.org"
    return os.urandom(24).hex()


def test_the_apps_environment_requires_what_production_requires() -> None:
    environment = yaml.safe_load(COMPOSE.read_text())["x-app"]["environment"]
    given: dict[str, str] = {}
    for name, value in environment.items():
        if value is None:  # passed through only when set on the host: unset here
            continue
        value = REQUIRED.sub(lambda match: a_good_value(match["name"]), str(value))
        given[name] = DEFAULT.sub(lambda match: match["default"], value)
    assert given["GATEWAY_ENV"] == "production"
    # Where the media service is published: the file leaves it to the operator (not needed on Cloudinary).
    given |= {"MEDIA_UPLOAD_URL": "https://media.vote.example.org", "MEDIA_FILES_URL": "https://media.vote.example.org"}
    settings = Settings(**{name.lower(): value for name, value in given.items()})  # type: ignore[arg-type]
    check_production(settings, providers_in_use=set())  # raises, naming what is missing
