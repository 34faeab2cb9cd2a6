"""`gateway run`'s process supervision, with real processes."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from assembly.machine.supervisor import (
    WantedStandIn,
    claim_in,
    restart_dead,
    spawn,
    stand_ins,
    start_orphaned,
    stop_children,
)
from assembly.settings import Settings
from gateway.jobs.queues import sync_redis
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


def test_a_second_host_on_this_machine_uses_the_stand_ins_already_answering(tmp_path: Path) -> None:
    """The payment sandbox already runs (another host's, or `gateway stand-ins`): it is used, not started again on
    its taken port; a stand-in nobody runs yet is started."""
    with socket.socket() as taken, socket.socket() as free:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        free.bind(("127.0.0.1", 0))
        free_port = free.getsockname()[1]
        free.close()
        settings = Settings(_env_file=None, gateway_data_dir=tmp_path, sandbox_url=f"http://127.0.0.1:"
                            f"{taken.getsockname()[1]}", media_upload_url="https://m.example.org",
                            media_files_url="https://m.example.org", at_fake_url=f"http://127.0.0.1:{free_port}",
                            telegram_bot_token=SecretStr("123:abc"))
        children = stand_ins(settings)
        try:
            assert [child.name for child in children] == ["at-fake"]
            assert children[0].args[:5] == ("channels.sms.fake_at", "--host", "127.0.0.1", "--port", str(free_port))
        finally:
            stop_children(children)


def test_a_host_starts_the_stand_in_it_borrowed_once_the_host_that_ran_it_is_gone(tmp_path: Path) -> None:
    """Host A ran the payment sandbox and was killed with it: host B, which used A's, starts its own on the same
    address (only the host that claims it: the others go on using B's)."""
    with socket.socket() as at_fake, socket.socket() as others:
        at_fake.bind(("127.0.0.1", 0))  # AT's fake runs elsewhere all along
        at_fake.listen()
        others.bind(("127.0.0.1", 0))
        others.listen()
        port = others.getsockname()[1]
        settings = Settings(_env_file=None, gateway_data_dir=tmp_path, sandbox_url=f"http://127.0.0.1:{port}",
                            media_upload_url="https://m.example.org", media_files_url="https://m.example.org",
                            at_fake_url=f"http://127.0.0.1:{at_fake.getsockname()[1]}",
                            telegram_bot_token=SecretStr("123:abc"))
        borrowed: list[WantedStandIn] = []
        children = stand_ins(settings, borrowed)
        assert children == [] and [wanted.name for wanted in borrowed] == ["sandbox", "at-fake"]
        assert start_orphaned(borrowed, claim=lambda name: True) == []  # A's still answer
        borrowed = borrowed[:1]  # (AT's fake goes with A too; this follows the sandbox)
    # A is gone, and another host claimed the restart first: B goes on borrowing
    assert start_orphaned(borrowed, claim=lambda name: False) == [] and len(borrowed) == 1
    children = start_orphaned(borrowed, claim=lambda name: True)
    try:
        assert [child.name for child in children] == ["sandbox"] and borrowed == []
        assert until_listening(port), "the sandbox started here does not answer"
    finally:
        stop_children(children)


def test_of_the_hosts_left_only_the_first_to_claim_a_stand_in_starts_it(settings: Settings) -> None:
    with sync_redis(settings.redis_url) as connection:
        connection.delete("gateway:stand-in-start:sandbox")
        first, second = claim_in(connection), claim_in(connection)
        assert first("sandbox") and not second("sandbox") and second("media")
        connection.delete("gateway:stand-in-start:sandbox", "gateway:stand-in-start:media")


def until_listening(port: int) -> bool:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def test_each_stand_in_starts_on_its_own_address(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        sandbox_port = free.getsockname()[1]
    settings = Settings(_env_file=None, gateway_data_dir=tmp_path, sandbox_url=f"http://127.0.0.1:{sandbox_port}",
                        media_storage="cloudinary", telegram_bot_token=SecretStr("123:abc"),
                        at_fake_url="http://127.0.0.1:9")  # AT's fake answers nowhere yet: started too
    children = stand_ins(settings)
    try:
        # A declared stand-in's arguments come after its module (run through assembly.machine.stand_in_logs).
        started = {child.name: child.args[1:5] if child.module == "assembly.machine.stand_in_logs" else child.args[:4]
                   for child in children}
        assert started["sandbox"] == ("--host", "127.0.0.1", "--port", str(sandbox_port))
        assert started["cloudinary"][3] == str(urlsplit(settings.cloudinary_stand_in_url).port)
        assert started["cloudinary"][3] not in (str(sandbox_port), "8094")  # the suite's own, never the default
    finally:
        stop_children(children)
