"""A child's heartbeat to `gateway run`'s supervisor: a byte down a pipe the supervisor made, about once a second.

A process can stop answering and stay alive: a lock that is never released, a C extension that never returns, a
loop held by a bug, a process stopped (SIGSTOP) by mistake. Its listening socket stays open, so the kernel goes on
handing it a share of new connections (SO_REUSEPORT) that nobody answers, and the supervisor, which only saw
exits, left it so. With a heartbeat the supervisor sees the silence from outside, whatever its cause, kills the
process (its sockets close with it) and starts another (`assembly.machine.supervisor.replace_frozen`).

A web process beats from its event loop's tick (`assembly.web.loop_watch`): a loop held for good stops the beats. A
worker's main thread spends minutes in one job, so it beats from a thread of its own, and that thread beats only
while the main thread shows progress (`Progress`): the worker marks each step of its loop (a wait for a job, a job's
start and end) with how long that step may take, a job its own time-out and a margin. A main thread held past that
(a lock never released, a job that swallowed its time-out, a call that never returns) stops the beats, and so does
a stopped process or one whose GIL is never let go.

The pipe's write end is non-blocking: a supervisor that reads late never holds up the loop, and one that is gone
only makes the beats fail quietly. Without GATEWAY_HEARTBEAT_FD (a process run on its own, the tests' apps) a beat
does nothing.
"""

from __future__ import annotations

import os
import stat
import threading
import time

HEARTBEAT_FD_ENV = "GATEWAY_HEARTBEAT_FD"
BEAT_SECONDS = 1.0


class Progress:
    """When the main thread must next show progress: each step it marks says how long it may take. A mark is one
    float written (no lock), so it may be made anywhere, a signal handler included."""

    def __init__(self, seconds: float) -> None:
        self.due = time.monotonic() + seconds

    def mark(self, seconds: float) -> None:
        """The main thread is working now, on a step that takes at most `seconds`."""
        self.due = time.monotonic() + seconds

    def on_time(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) <= self.due


class Heartbeat:
    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self._last_beat = float("-inf")

    @classmethod
    def from_environment(cls) -> Heartbeat:
        """This process's pipe, taken out of the environment: a process it starts is no child of the supervisor's,
        and the same number would be another file there."""
        try:
            fd = int(os.environ.pop(HEARTBEAT_FD_ENV, ""))
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return cls(None)
            os.set_blocking(fd, False)
        except (ValueError, OSError):  # none, or not a pipe of this process
            return cls(None)
        return cls(fd)

    def beat(self, now: float | None = None) -> None:
        """Tell the supervisor this process still runs; at most once a second, however often it is called."""
        now = time.monotonic() if now is None else now
        if self.fd is None or now - self._last_beat < BEAT_SECONDS:
            return
        self._last_beat = now
        try:
            os.write(self.fd, b".")
        except BlockingIOError:  # the supervisor has a second's worth of beats unread: it knows already
            pass
        except OSError:  # the supervisor is gone (a broken pipe): nobody to tell
            self.fd = None

    def keep_beating(self, progress: Progress | None = None) -> threading.Thread:
        """Beat from a thread of this process's own, for as long as the process runs (and, given `progress`, only
        while its main thread is on time)."""
        def beat_forever() -> None:
            while self.fd is not None:
                if progress is None or progress.on_time():
                    self.beat()
                time.sleep(BEAT_SECONDS / 2)

        thread = threading.Thread(target=beat_forever, name="heartbeat", daemon=True)
        thread.start()
        return thread
