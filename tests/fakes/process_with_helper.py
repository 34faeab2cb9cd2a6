"""A stand-in child for the supervisor's tests: it starts a helper of its own (as an RQ worker
starts its scheduler) and writes the helper's pid to the file it is given, then waits."""

import subprocess
import sys
import time

helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(sys.argv[1], "w") as out:
    out.write(str(helper.pid))
time.sleep(120)
