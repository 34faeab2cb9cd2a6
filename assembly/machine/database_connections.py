"""How many PostgreSQL connections the service's processes may hold at once, from the size of their pools: what its
database must allow. PostgreSQL's own default (max_connections 100) is less than the default installation may hold
(one web process, four workers and a media worker: 112), and each web process added for a core adds 36. The embedded
server is raised to it at each start (`assembly.machine.embedded`; restores replay without hot standby so that the
change in the WAL does not stop them, `assembly.operations.restored_folder`); a database of one's own must allow it
for every host that shares it (docs/production.md)."""

from __future__ import annotations

from gateway.core.money_in.verification.loop import CONCURRENT_VERIFICATIONS
from media.storage_settings import MediaSettings

# A web process's pools: for requests (database_ctx), for the board (its relay's refresh, two at once, and its reads:
# database_ctx) and for verification (verification_ctx); an engine lent instead (LentEngines) is to allow as many.
REQUEST_CONNECTIONS = 24
BOARD_CONNECTIONS = 4
VERIFICATION_CONNECTIONS = CONCURRENT_VERIFICATIONS + 4
WEB_PROCESS_CONNECTIONS = REQUEST_CONNECTIONS + BOARD_CONNECTIONS + VERIFICATION_CONNECTIONS
# A worker's jobs share one engine (`assembly.worker.job_runtime`): this many kept, as many more in a burst.
WORKER_POOL = 5
WORKER_CONNECTIONS = 2 * WORKER_POOL
MEDIA_SERVER_CONNECTIONS = 4  # `gateway media`'s hooks: 2 kept, 2 more in a burst (media.upload_server)
SUPERVISOR_CONNECTIONS = 2  # `gateway run`'s own look at the database: 1 kept, 1 more
# What operators and monitoring open meanwhile: `gateway` commands (two each), psql, the PostgreSQL exporter.
OPERATOR_CONNECTIONS = 20


def most_connections(settings: MediaSettings) -> int:
    """The most connections one installation of these settings holds at once (`gateway run`'s processes)."""
    workers = settings.gateway_worker_processes + settings.media_workers
    return (settings.gateway_web_processes * WEB_PROCESS_CONNECTIONS + workers * WORKER_CONNECTIONS
            + MEDIA_SERVER_CONNECTIONS + SUPERVISOR_CONNECTIONS + OPERATOR_CONNECTIONS)
