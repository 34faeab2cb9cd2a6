"""The control room's database line: which server the service writes to and its standbys' lag, as PostgreSQL itself
says it through the service's own connection (so what the room shows is where the votes go, whatever HAProxy or
Patroni believe): `pg_stat_replication` on the primary, one row per standby streaming from it, each named by its
`application_name`, which Patroni sets to the node's name (pg1, pg2, …), its `sync_state` and `replay_lag`.

"Primary 10.0.0.1 · sync standby pg2 lag 0.0 s · replica pg3 lag 0.2 s"; "One server, no standby" without any. The
primary is named by its address (`inet_server_addr()`): nothing in PostgreSQL holds its Patroni name. The columns
past `application_name` are NULL unless the service's role may read them (`pg_read_all_stats`, in `pg_monitor`):
such a standby is listed without its lag."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from admin.dashboard import Gettext
from gateway.core.texts import N_

# synchronous_standby_names set: commits wait for a standby (Patroni's synchronous mode names it, or '*' in strict
# mode with none left); empty on a single server.
SERVER = text("SELECT pg_is_in_recovery(), host(inet_server_addr()), current_setting('synchronous_standby_names')")
# A base backup's walsenders (`gateway backup base` runs pg_basebackup: one sends the files, state "backup", one
# streams the WAL meanwhile) are no standby.
STANDBYS = text("""
    SELECT application_name, state, sync_state, EXTRACT(EPOCH FROM replay_lag)::float8
    FROM pg_stat_replication
    WHERE state IS DISTINCT FROM 'backup' AND application_name NOT IN ('pg_basebackup', 'pg_receivewal')
    ORDER BY sync_state IN ('sync', 'quorum') DESC, application_name""")
SYNCHRONOUS = {"sync", "quorum"}  # "potential": it waits to become one; "async": never acknowledges a commit
TEXTS = (N_("Database"), N_("One server, no standby"), N_("Primary %(server)s"), N_("this server"),
         N_("Primary %(server)s · no standby streaming: every commit waits for one"),
         N_("sync standby %(name)s lag %(lag)s s"), N_("replica %(name)s lag %(lag)s s"),
         N_("sync standby %(name)s (%(state)s)"), N_("replica %(name)s (%(state)s)"),
         N_("standby %(name)s, its state hidden from the service's role (grant it pg_monitor)"),
         N_("The service's connection reaches a standby in recovery, not a primary: its writes fail."))


@dataclass(frozen=True)
class Standby:
    """One standby streaming from the primary: Patroni's name for it, its walsender's state (None: hidden from the
    service's role), whether it acknowledges commits, and how far behind its replay is (None: not measured)."""

    name: str
    state: str | None
    synchronous: bool
    lag_seconds: float | None


@dataclass(frozen=True)
class DatabaseRoles:
    """The server the service's connection reaches: a primary (or a standby in recovery) at `address` (None: over a
    Unix socket), whether its commits wait for a synchronous standby, and the standbys streaming from it."""

    in_recovery: bool = False
    address: str | None = None
    synchronous: bool = False
    standbys: tuple[Standby, ...] = ()


def standby_of(name: str, state: str | None, sync_state: str | None, lag: float | None) -> Standby:
    # An idle standby fully caught up shows a NULL replay_lag once its last measure is old: no lag at all.
    if lag is None and state == "streaming":
        lag = 0.0
    return Standby(name or "?", state, sync_state in SYNCHRONOUS, lag)


async def database_roles(session: AsyncSession) -> DatabaseRoles:
    in_recovery, address, synchronous_names = (await session.execute(SERVER)).one()
    rows = [] if in_recovery else (await session.execute(STANDBYS)).all()
    return DatabaseRoles(bool(in_recovery), address, bool(synchronous_names.strip()),
                         tuple(standby_of(*row) for row in rows))


def standby_said(_: Gettext, standby: Standby) -> str:
    if standby.state is None:  # its sync_state hidden too: whether it is the synchronous one is unknown
        return _("standby %(name)s, its state hidden from the service's role (grant it pg_monitor)") % {
            "name": standby.name}
    if standby.state == "streaming" and standby.lag_seconds is not None:
        lag = f"{standby.lag_seconds:.1f}"
        if standby.synchronous:
            return _("sync standby %(name)s lag %(lag)s s") % {"name": standby.name, "lag": lag}
        return _("replica %(name)s lag %(lag)s s") % {"name": standby.name, "lag": lag}
    # startup, catchup, stopping: PostgreSQL's own word for where it is
    key = "sync standby %(name)s (%(state)s)" if standby.synchronous else "replica %(name)s (%(state)s)"
    return _(key) % {"name": standby.name, "state": standby.state}


def roles_said(_: Gettext, roles: DatabaseRoles) -> str:
    """The line the room shows: "Primary 10.0.0.1 · sync standby pg2 lag 0.0 s · replica pg3 lag 0.2 s"."""
    if roles.in_recovery:
        return _("The service's connection reaches a standby in recovery, not a primary: its writes fail.")
    server = roles.address or _("this server")
    if not roles.standbys and roles.synchronous:  # a cluster's primary whose standbys are gone: commits hang
        return _("Primary %(server)s · no standby streaming: every commit waits for one") % {"server": server}
    if not roles.standbys:
        return _("One server, no standby")
    primary = _("Primary %(server)s") % {"server": server}
    return " · ".join([primary, *(standby_said(_, standby) for standby in roles.standbys)])
