"""What the commands share: the servers they work on (embedded ones where none is configured) and a database."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from assembly.machine.database_connections import most_connections
from assembly.machine.embedded import export_urls, service_urls
from assembly.operations.backups import backup_place
from assembly.settings import Settings, check_servers

if TYPE_CHECKING:
    from gateway.db.engine import Sessions

T = TypeVar("T")
# What a module of commands adds its `gateway <command>`s to (each sets func(settings, args) -> exit code).
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def with_services(settings: Settings, stack: ExitStack) -> Settings:
    """Settings whose URLs point at real servers, starting embedded ones where none is configured."""
    check_servers(settings)
    if settings.database_url and settings.redis_url:
        return settings
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    urls = stack.enter_context(service_urls(settings.database_url, settings.redis_url, settings.gateway_data_dir,
                                            archive_to=backup_place(settings).root,
                                            max_connections=most_connections(settings)))
    export_urls(urls)
    return settings.model_copy(update={"database_url": urls.database_url, "redis_url": urls.redis_url})


def with_database(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    from gateway.db.engine import create_engine, session_factory

    async def main() -> T:
        engine = create_engine(settings.database_url or "", pool_size=1)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())
