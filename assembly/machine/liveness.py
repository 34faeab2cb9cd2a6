"""How `gateway run`'s supervisor tells a child that stopped answering from one that is busy, and counts the
replacements it made (`assembly.machine.heartbeat` is the child's side).

Each web process and worker gets a pipe; the supervisor reads its beats and replaces a child silent for its
`frozen_after` seconds (`GATEWAY_FROZEN_AFTER_SECONDS`, 10 s: `assembly.settings.LivenessSettings`): killed with its
process group (its listening socket closes, so the kernel stops handing it connections) and started again on the
supervisor's next look, a fifth of a second later.

The thresholds leave room for a busy process on a loaded 2-core machine. A web process beats from its loop about
once a second; a loop that is merely slow (a start-up's full collection, a burst of requests, a machine whose cores
are all taken) misses a beat or two, never ten. A child that has not beaten yet is starting (imports, its pools,
the web process's first collection): it is given `START_SECONDS` for its first beat.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import values

from assembly.machine.heartbeat import HEARTBEAT_FD_ENV
from assembly.machine.shared_metrics import SHARED_DIR_ENV

START_SECONDS = 120.0

REPLACED = "gateway_processes_replaced"
REPLACED_HELP = "Processes gateway run killed and started again because they stopped answering (no heartbeat)"
REPLACED_LABELS = ("process",)


class HeartbeatPipe:
    """The supervisor's end of one child's heartbeat pipe; the child is frozen once silent for `frozen_after`
    seconds."""

    def __init__(self, frozen_after: float) -> None:
        self.frozen_after = frozen_after
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)
        self.started = time.monotonic()
        self.last_beat: float | None = None

    def child_environment(self) -> dict[str, str]:
        return {HEARTBEAT_FD_ENV: str(self.write_end)}

    def started_child(self) -> None:
        """The child has its copy of the write end: ours closes, so the pipe's end is the child's."""
        os.close(self.write_end)

    def silent_for(self, now: float) -> float:
        """How long since the child's last beat (since its start while it has not beaten yet)."""
        while True:
            try:
                read = os.read(self.read_end, 4096)
            except BlockingIOError:
                break
            if not read:  # every writer gone: the child exited
                break
            self.last_beat = now
        return now - (self.started if self.last_beat is None else self.last_beat)

    def frozen(self, now: float) -> bool:
        silent = self.silent_for(now)
        return silent > (START_SECONDS if self.last_beat is None else self.frozen_after)

    def close(self) -> None:
        os.close(self.read_end)


class Replacements:
    """The supervisor's count of the children it replaced, written where the host's processes share their figures
    (`assembly.machine.shared_metrics`): a scrape of any web process serves it. The supervisor imported
    prometheus_client before it named that directory, so the count is written through a value of the multiprocess kind
    of its own (its own file too: `counter_supervisor-<pid>.db`, never a child's)."""

    def __init__(self, processes: Iterable[str] = ()) -> None:
        shared = bool(os.environ.get(SHARED_DIR_ENV))
        # prometheus_client leaves MultiProcessValue unannotated
        self._value_class = (values.MultiProcessValue(lambda: f"supervisor-{os.getpid()}")  # type: ignore[no-untyped-call]
                             if shared else None)
        self._values: dict[str, Any] = {}
        for process in processes:  # each series there from the start, at 0: an alert's increase() sees the first one
            self.count(process, 0)

    def count(self, process: str, replaced: int = 1) -> None:
        if self._value_class is None:
            return
        if process not in self._values:
            self._values[process] = self._value_class("counter", REPLACED, f"{REPLACED}_total", REPLACED_LABELS,
                                                      (process,), REPLACED_HELP)
        self._values[process].inc(replaced)
