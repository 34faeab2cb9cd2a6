"""ffmpeg runs on what the vote path leaves: its own session at the lowest group weight, the idle class, the
lowest niceness and a memory ceiling, all set before it starts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPORT = """
import json, os, resource
from pathlib import Path
autogroup = Path("/proc/self/autogroup")
print(json.dumps({"idle": os.sched_getscheduler(0) == os.SCHED_IDLE, "nice": os.nice(0),
                  "memory": resource.getrlimit(resource.RLIMIT_AS)[0],
                  "autogroup": autogroup.read_text().split()[-1] if autogroup.exists() else None}))
"""


def test_a_bounded_program_claims_the_least_cpu_and_its_memory_ceiling() -> None:
    result = subprocess.run([sys.executable, "-m", "media.lowly", str(2**31), sys.executable, "-c", REPORT],
                            capture_output=True, text=True, timeout=60, start_new_session=True)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert (seen["idle"], seen["nice"], seen["memory"]) == (True, 19, 2**31)
    autogroups = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if autogroups.exists() and autogroups.read_text().strip() == "1":
        assert seen["autogroup"] == "19"


PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-m", "media.lowly", str(2**31), "/bin/sleep", "600"],
                         start_new_session=True)
print(child.pid, flush=True)
child.wait()
"""


def test_a_bounded_program_ends_with_the_process_that_started_it() -> None:
    """In a session of its own, a transcode outlived a media worker killed at shutdown (`gateway run` stopped,
    ffmpeg still running on the data folder): it now ends with its parent, however that one ended."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 120  # the child's Python starts, lowers itself and becomes sleep
        while not Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"/bin/sleep"):
            assert time.monotonic() < deadline, "the program never started"
            time.sleep(0.05)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 60
        while alive(child):
            assert time.monotonic() < deadline, "the program outlived the process that started it"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()
        parent.stdout.close()


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
