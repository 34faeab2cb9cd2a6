"""`gateway run`'s process supervision, with real processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from assembly.supervisor import restart_dead, spawn, stop_children
from tests.processes import alive


def helper_pid(path: Path) -> int:
    for _ in range(200):
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError("the child did not start its helper")


def test_a_child_killed_with_sigkill_is_replaced_and_leaves_nothing_running(tmp_path: Path) -> None:
    first = tmp_path / "first"
    children = [spawn("worker-0", str(first), module="tests.fakes.process_with_helper")]
    try:
        orphan = helper_pid(first)
        os.kill(children[0].process.pid, signal.SIGKILL)
        children[0].process.wait(timeout=10)
        assert alive(orphan)  # what a SIGKILL leaves behind
        assert restart_dead(children)
        for _ in range(100):
            if not alive(orphan):
                break
            time.sleep(0.02)
        assert not alive(orphan)
        assert children[0].process.poll() is None  # the replacement runs
    finally:
        stop_children(children)
