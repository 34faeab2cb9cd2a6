"""`python -m media.lowly MEMORY_BYTES PROGRAM [ARGS…]`: run PROGRAM with an address-space ceiling and the
lowest claim on the CPU a process can make, then become it (exec).

Niceness alone does not do it: with the kernel's automatic session groups (sched_autogroup, on by default) each
session gets a fair share of the CPU whatever its processes' niceness, so two transcodes in their own session
took nearly half the machine from the processes counting votes. Here the program gets a session of its own
(`start_new_session`), that session's group the lowest weight (/proc/self/autogroup), and itself the idle
scheduling class: it runs on what the vote path leaves. Done in a process of its own rather than in a
`preexec_fn`, which is not safe in a process with threads (the worker's job runtime has one).

A session of its own also takes it out of its parent's process group, which is what a supervisor kills: so it
asks the kernel to end it with the process that started it (PR_SET_PDEATHSIG, kept across exec), or a transcode
outlives a worker killed at shutdown.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
from pathlib import Path

LOWEST = 19
PR_SET_PDEATHSIG = 1


def lower(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    with contextlib.suppress(OSError):  # no autogroups (sched_autogroup off, or not Linux): niceness counts
        Path("/proc/self/autogroup").write_text(str(LOWEST))
    os.nice(LOWEST)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def end_with_parent() -> None:
    """SIGKILL when the parent ends; a parent gone already (before the request) is checked after it."""
    parent = os.getppid()
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the supervisor's own clean-up is all there is
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(1)


def main() -> None:
    memory, program, *arguments = sys.argv[1:]
    end_with_parent()
    lower(int(memory))
    os.execv(program, [program, *arguments])


if __name__ == "__main__":
    main()
