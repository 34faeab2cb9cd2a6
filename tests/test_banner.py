"""`gateway run`'s URLs block names what a person opens first (both demo contests, the overlay, the admin area and how
to make its first account), and the local stand-ins stay quiet unless asked: at INFO the payment sandbox wrote a line
per request, ten a second while status checks polled, and the service's own lines scrolled away among them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from assembly.machine.banner import banner_lines
from assembly.machine.stand_in_logs import stand_in_level
from assembly.machine.supervisor import stand_ins, stand_ins_needed, stop_children
from assembly.settings import Settings
from tests.servers import free_port


def test_the_banner_names_both_demos_their_overlay_and_the_admin_area_with_its_first_account(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, gateway_data_dir=tmp_path, gateway_host="127.0.0.1", gateway_port=8080)
    text = "\n".join(banner_lines(settings, stand_ins_needed(settings)))
    assert "http://127.0.0.1:8080/c/demo " in text
    assert "http://127.0.0.1:8080/c/demo-kenya " in text
    # how each demo is voted for from a phone, as its seed sets it up
    assert "USSD *384*123#, SMS VOTE 07 5 to 20123" in text
    assert "USSD *384*254#, SMS KURA 03 3 to 20254, Paybill 174379 account 03" in text
    assert "http://127.0.0.1:8080/c/demo/overlay " in text and "layout=" in text
    assert "http://127.0.0.1:8080/admin " in text and "gateway admin create --email" in text
    assert "http://127.0.0.1:8080/admin/control" in text
    assert "STAND_IN_LOG_LEVEL" in text  # how to see the stand-ins' requests again


def test_the_stand_ins_log_warnings_only_unless_asked() -> None:
    assert stand_in_level({}) == logging.WARNING
    assert stand_in_level({"STAND_IN_LOG_LEVEL": "info"}) == logging.INFO
    assert stand_in_level({"STAND_IN_LOG_LEVEL": "chatty"}) == logging.WARNING


def sandbox_output(port: int, level: str | None) -> str:
    """What the payment sandbox, started as `gateway run` starts it, writes while answering a few requests."""
    environment = {key: value for key, value in os.environ.items() if key != "STAND_IN_LOG_LEVEL"}
    environment["PYTHONUNBUFFERED"] = "1"
    if level is not None:
        environment["STAND_IN_LOG_LEVEL"] = level
    process = subprocess.Popen(
        [sys.executable, "-m", "assembly.machine.stand_in_logs", "payments.sandbox", "--host", "127.0.0.1", "--port",
         str(port)], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                    return True
            except OSError:
                return False
        deadline = time.monotonic() + 60
        while not answers():
            assert time.monotonic() < deadline and process.poll() is None, "the sandbox never answered"
            time.sleep(0.05)
        for _ in range(3):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).close()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    return output.decode()


def test_the_payment_sandbox_started_by_gateway_run_keeps_its_request_lines_to_itself(tmp_path: Path) -> None:
    quiet = sandbox_output(free_port(), None)
    assert "MTN MoMo sandbox" in quiet  # its start-up lines still show
    assert '"GET / HTTP' not in quiet
    chatty = sandbox_output(free_port(), "INFO")
    assert chatty.count('"GET / HTTP') >= 3  # asked: every request again


def test_gateway_run_starts_each_stand_in_through_the_quiet_logs(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, gateway_data_dir=tmp_path, sandbox_url=f"http://127.0.0.1:{free_port()}")
    children = stand_ins(settings)
    try:
        sandbox = [child for child in children if child.name == "sandbox"]
        started = [(child.module, child.args[0]) for child in sandbox]
        assert started == [("assembly.machine.stand_in_logs", "payments.sandbox")]
    finally:
        stop_children(children)
