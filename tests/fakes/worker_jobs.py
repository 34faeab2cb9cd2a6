"""Jobs a test queues for a real `gateway worker`, which imports them by name: each holds the worker's main thread
as a job of the service might."""

from __future__ import annotations

import threading
import time
from pathlib import Path


def hold_the_main_thread() -> None:
    """Waits for a lock nobody will release, in a retry loop whose broad `except` swallows the job's time-out too
    (RQ raises it in the main thread): the worker's main thread is held for good, its other threads run on."""
    lock = threading.Lock()
    lock.acquire()
    while True:
        try:
            lock.acquire()
        except Exception:  # RQ's JobTimeoutException among them
            continue


def work_for(seconds: float) -> None:
    """A long job within its time-out: the main thread busy in it from start to end."""
    time.sleep(seconds)


def work_until(path: str) -> None:
    """A job that ends when the test says so (the file exists)."""
    while not Path(path).exists():
        time.sleep(0.05)
