"""A web process no supervisor watches (`gateway web` alone in a container, whose orchestrator restarts a process
that exits but never one that hangs) ends itself when its loop stops for as long as `gateway run` would wait: its
`GATEWAY_FROZEN_AFTER_SECONDS`, short here (production's is 10 s)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from assembly.machine.heartbeat import HEARTBEAT_FD_ENV
from assembly.web.loop_watch import EXIT_FROZEN
from gateway.kit.outbound_tls import verified_tls
from tests.servers import free_port
from tests.waiting import HANG_SECONDS

FROZEN_AFTER = 3


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2, verify=verified_tls()).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_web_process_alone_whose_loop_is_held_ends_itself_and_says_why() -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name != HEARTBEAT_FD_ENV}
    env["GATEWAY_FROZEN_AFTER_SECONDS"] = str(FROZEN_AFTER)
    with subprocess.Popen([sys.executable, "-m", "tests.fakes.web_process", str(port)], env=env,
                          stderr=subprocess.PIPE, text=True) as process:
        try:
            deadline = time.monotonic() + HANG_SECONDS  # a loaded machine's start
            while not answers(port):
                assert process.poll() is None and time.monotonic() < deadline, "the web process never answered"
                time.sleep(0.1)
            process.send_signal(signal.SIGUSR1)  # its loop waits for a lock it holds: for ever
            held = time.monotonic()
            # Its own thread looks twenty times a wait: on a loaded machine it may be seconds late, never minutes.
            code = process.wait(timeout=FROZEN_AFTER + 50)
            assert time.monotonic() - held >= FROZEN_AFTER * 0.9  # a held loop is given the supervisor's wait
            assert code == EXIT_FROZEN
            assert process.stderr is not None
            assert re.search(r"event loop stuck for \d+ s and no supervisor to replace this process: ending it",
                             process.stderr.read())
            assert not answers(port)  # its socket went with it
        finally:
            process.kill()
