"""ffmpeg runs on what the vote path leaves: its own session at the lowest group weight, the idle class, the
lowest niceness and a memory ceiling, all set before it starts."""

from __future__ import annotations

import json
import subprocess
import sys
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
