"""A development secret made on first use and kept in the data folder (owner-only), so that what it signed or sealed
yesterday still verifies or opens today: production sets its secrets instead."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def kept_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes, `make()` written there first if it does not exist. Several processes may start at once: each
    writes its own aside, the first to link it in place wins and every process reads that one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(make())
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process made it first: its secret is the secret
        finally:
            aside.unlink()
    return path.read_bytes()
