"""docker-compose.yml's PostgreSQL archives its WAL as the backups need: its settings are those `gateway backup
settings` prints for the archive's folder in the container, so neither can change without the other, and its
start makes that folder for the server's user and hands PostgreSQL the settings whole."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.commands import gateway

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
BACKUP_VOLUME = "backups"


def postgres_service() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"]["postgres"])


def unescaped(args: list[str]) -> list[str]:
    """As Compose hands them to the container: `$$` is a `$`."""
    return [arg.replace("$$", "$") for arg in args]


def backup_dir_in_container(service: dict[str, Any]) -> str:
    mounts = [volume.split(":") for volume in service["volumes"]]
    targets = [target for source, target, *_ in mounts if source == BACKUP_VOLUME]
    assert len(targets) == 1, f"the postgres service mounts no `{BACKUP_VOLUME}` volume"
    return str(targets[0])


def server_options(command: list[str]) -> dict[str, str]:
    """The server's `-c name=value` options."""
    options = {}
    for flag, value in zip(command, command[1:], strict=False):
        if flag == "-c":
            name, _, setting = value.partition("=")
            options[name] = setting
    return options


def printed_settings(backup_dir: str) -> dict[str, str]:
    """What `gateway backup settings` tells an operator to put in postgresql.conf, for that BACKUP_DIR."""
    env = {**os.environ, "BACKUP_DIR": backup_dir, "LOG_JSON": "false"}
    done = gateway("backup", "settings", env=env)
    assert done.returncode == 0, done.stderr
    lines = re.findall(r"^(\w+) = '((?:[^']|'')*)'$", done.stdout, flags=re.MULTILINE)
    assert lines, done.stdout
    return {name: value.replace("''", "'") for name, value in lines}


def test_the_compose_postgres_archives_with_the_settings_gateway_backup_settings_prints() -> None:
    service = postgres_service()
    backup_dir = backup_dir_in_container(service)
    assert BACKUP_VOLUME in yaml.safe_load(COMPOSE.read_text())["volumes"]
    printed = printed_settings(backup_dir)
    assert {"archive_mode", "archive_command", "archive_timeout"} <= printed.keys()
    options = server_options(unescaped(service["command"]))
    assert {name: options.get(name) for name in printed} == printed


def test_its_start_makes_the_archive_folder_for_the_server_and_passes_the_settings_whole(tmp_path: Path) -> None:
    """The container's entrypoint and command, run by sh with stand-ins for `install` and the image's
    entrypoint: the archive's folders are made for `postgres` before the server starts, and each setting
    (archive_command has spaces, quotes, parentheses) reaches the server as one argument."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("install", "docker-entrypoint.sh"):
        stand_in = bin_dir / name
        stand_in.write_text(f'#!/bin/sh\nfor arg in "$@"; do printf "%s\\0" "$arg"; done >> "{tmp_path}/{name}"\n')
        stand_in.chmod(0o755)
    service = postgres_service()
    entrypoint, command = unescaped(service["entrypoint"]), unescaped(service["command"])
    done = subprocess.run([*entrypoint, *command], env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    installed = (tmp_path / "install").read_text().split("\0")[:-1]
    backup_dir = backup_dir_in_container(service)
    assert installed[:4] == ["-d", "-o", "postgres", "-g"] and installed[4] == "postgres"
    assert f"{backup_dir}/wal" in installed[5:]
    assert (tmp_path / "docker-entrypoint.sh").read_text().split("\0")[:-1] == command
