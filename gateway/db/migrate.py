"""Schema migrations (Alembic), run by `gateway migrate` and at `gateway run` start-up."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str, branches: Sequence[Path] = ()) -> Config:
    """The core's migrations, plus `branches`: the folders of the channels' own (each an Alembic branch of its
    own, labelled with the channel's name, for the channel's own tables)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    locations = [MIGRATIONS / "versions", *branches]
    config.set_main_option("version_locations", os.pathsep.join(str(path) for path in locations))
    return config


def upgrade(database_url: str, branches: Sequence[Path] = (), revision: str = "heads") -> None:
    """Bring the schema (the core's and every branch's) to `revision`; safe to run concurrently and repeatedly."""
    command.upgrade(alembic_config(database_url, branches), revision)


async def upgrade_async(database_url: str, branches: Sequence[Path] = ()) -> None:
    """Alembic's env runs its own event loop, so from async code run it in a thread."""
    await asyncio.to_thread(upgrade, database_url, branches)
