"""The schema the migrations build is the schema the code expects: a column added to a model but
not to a migration (or the other way round) fails here, not on show night after `gateway migrate`."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db.models import Base


async def test_the_migrated_database_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(
                sync, opts={"compare_server_default": True, "compare_type": True}), Base.metadata))
    assert differences == []
