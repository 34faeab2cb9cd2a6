"""The `gateway` command as an operator runs it: what only a real process shows (starting and stopping the service,
the refusals before anything starts, what a command imports) with real processes, the rest through its entry point
(tests/commands.py)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import AdminUser, Candidate, Contest, MediaUpload
from gateway.kit.outbound_tls import verified_tls
from tests.commands import command_env, gateway
from tests.factories import channel_settings
from tests.servers import free_port
from tests.waiting import HANG_SECONDS


def gateway_process(*args: str, env: dict[str, str], timeout: float = HANG_SECONDS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assembly.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return command_env(settings, GATEWAY_DATA_DIR=str(tmp_path / "var"))


async def test_migrate_then_seed_demo_twice_gives_one_demo_contest(sessions: Sessions, env: dict[str, str]) -> None:
    assert gateway("migrate", env=env).returncode == 0
    for _ in range(2):
        result = gateway("seed", "--demo", env=env)
        assert result.returncode == 0, result.stderr
    async with sessions() as session:
        demo = (await session.scalars(select(Contest).where(Contest.slug == "demo"))).one()
        codes = list(await session.scalars(select(Candidate.code).where(Candidate.contest_id == demo.id)
                                           .order_by(Candidate.code)))
        clips = list(await session.scalars(select(Candidate.clip_id).where(Candidate.contest_id == demo.id)))
        uploads = await session.scalar(select(func.count()).select_from(MediaUpload))
    assert demo.name == "Demo Star 2026" and demo.price_per_vote == 100 and demo.currency == "XAF"
    own = await channel_settings(sessions, demo.id)
    assert own["ussd_service_codes"] == ["*384*123#"]
    assert (own["sms_short_code"], own["sms_keyword"]) == ("20123", "VOTE")
    assert demo.providers == ["mtn", "orange", "stripe"] and demo.max_votes_per_order == 100
    assert codes == [f"{i:02d}" for i in range(1, 9)]
    assert (demo.closes_at - demo.opens_at).days >= 29
    # A clip and a photo each, made once (tests/media/test_demo_media.py: what the media worker makes of them).
    assert None not in clips and len(set(clips)) == 8 and uploads == 16


async def test_admin_create_hashes_the_password_and_refuses_bad_input(sessions: Sessions,
                                                                      env: dict[str, str]) -> None:
    good = {**env, "GATEWAY_ADMIN_PASSWORD": "correct horse battery"}
    created = gateway("admin", "create", "--email", "Boss@Example.com", env=good)
    assert created.returncode == 0, created.stderr
    again = gateway("admin", "create", "--email", "boss@example.com", env=good)
    assert again.returncode == 2 and "already exists" in again.stderr
    weak = gateway("admin", "create", "--email", "x@example.com", env={**env, "GATEWAY_ADMIN_PASSWORD": "short"})
    assert weak.returncode == 2 and "at least 12" in weak.stderr
    async with sessions() as session:
        users = (await session.scalars(select(AdminUser))).all()
        assert [u.email for u in users] == ["boss@example.com"]
        assert "correct horse" not in users[0].password_hash
        assert await session.scalar(select(func.count()).select_from(AdminUser)) == 1


def wait_ready(url: str, process: subprocess.Popen[str], printed: Printed, timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:  # one: each client builds a TLS context, 37 ms of CPU here
        while time.monotonic() < deadline:
            assert process.poll() is None, printed.text(timeout=5)
            try:
                response = client.get(url)
                if response.status_code == 200:
                    return response
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"{url} not ready in {timeout}s")


class Printed:
    """Everything a process prints, read as it comes (so a test can wait for a line while it runs)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline, f"{text!r} not printed in {timeout}s:\n{self.text()}"
            time.sleep(0.1)

    def text(self, timeout: float = 0) -> str:
        self._reader.join(timeout)
        return "".join(self.lines)


def processes_using(path: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(path) in cmdline:
                found.append(cmdline)
    return found


def niceness_of(run_pid: int) -> dict[str, set[int]]:
    """The niceness of each web process and worker `gateway run` started, by what it is."""
    found: dict[str, set[int]] = {}
    for child in psutil.Process(run_pid).children(recursive=True):
        try:
            args, niceness = child.cmdline(), child.nice()
        except psutil.Error:  # gone meanwhile (a work horse)
            continue
        if args[1:3] == ["-m", "assembly.cli"] and args[3] in ("web", "worker"):
            found.setdefault(args[3], set()).add(niceness)
    return found


def settled_niceness(run_pid: int, expected: dict[str, set[int]]) -> dict[str, set[int]]:
    """`niceness_of` once it is `expected`, or as it is after HANG_SECONDS: a worker lowers its own claim once it has
    imported its code, which on a busy machine is seconds after the web process answers."""
    deadline = time.monotonic() + HANG_SECONDS
    while (found := niceness_of(run_pid)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


@pytest.fixture
def run_data() -> Iterator[Path]:
    """`gateway run`'s data folder, outside pytest's temporary root: its embedded PostgreSQL runs as a system user of
    its own (as root), and a pytest session started meanwhile on this machine (another suite) makes that root 0700
    again, cutting the server off from its folder (tests/conftest.py's `services` says the same)."""
    with tempfile.TemporaryDirectory(prefix="ballot-run-", ignore_cleanup_errors=True) as scratch:
        yield Path(scratch) / "var"


def test_run_starts_everything_embedded_stops_cleanly_and_restarts_on_the_same_data(run_data: Path) -> None:
    data = run_data
    port = free_port()
    # The workers' niceness as it is by default (the suite's own workers run at its priority: tests/conftest.py).
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "GATEWAY_WORKER_NICENESS")}
    env.update(GATEWAY_DATA_DIR=str(data), GATEWAY_PORT=str(port), LOG_JSON="false",
               SANDBOX_URL=f"http://127.0.0.1:{free_port()}", AT_FAKE_URL=f"http://127.0.0.1:{free_port()}",
               TELEGRAM_FAKE_API_URL=f"http://127.0.0.1:{free_port()}")
    media = f"http://127.0.0.1:{free_port()}"  # its own: the suite's closed port is no place to listen
    env.update(MEDIA_UPLOAD_URL=media, MEDIA_FILES_URL=media)
    # The first run as `make run` starts it; the second on its data, with one worker, no media worker and no media
    # server (its files elsewhere): what the restart proves is the data's (and the first run's figures left out), and
    # each process costs seconds of CPU.
    lean = {"GATEWAY_WORKER_PROCESSES": "1", "MEDIA_WORKERS": "0", "MEDIA_UPLOAD_URL": "https://media.example.org",
            "MEDIA_FILES_URL": "https://media.example.org"}
    for attempt in range(2):
        process = subprocess.Popen([sys.executable, "-m", "assembly.cli", "run"], env=env | (lean if attempt else {}),
                                   text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        printed = Printed(process)
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz", process, printed)
            demo = httpx.get(f"http://127.0.0.1:{port}/api/v1/contests/demo", timeout=5, verify=verified_tls()).json()
            assert len(demo["candidates"]) == 8
            # This run's figures only: the last run's processes' are not summed in.
            scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5, verify=verified_tls()).text
            assert 'route="/api/v1/contests/{slug}",status="200"} 1.0' in scraped
            # The supervisor's count of frozen processes it replaced: each watched child's series there from the start.
            assert 'gateway_processes_replaced_total{process="web-0"} 0.0' in scraped
            assert len(processes_using(data)) >= 2  # the embedded PostgreSQL and Redis are up
            # With the cores full the web processes answer first, the workers' queues wait (their default niceness).
            own = os.getpriority(os.PRIO_PROCESS, 0)
            expected = {"web": {own}, "worker": {max(own, 10)}}
            assert settled_niceness(process.pid, expected) == expected
            printed.wait_for("Press Ctrl-C to stop everything.")  # as the operator does
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        output = printed.text(timeout=10)
        assert process.returncode == 0, output
        assert "Ballot stopped." in output
        # The URLs block comes once everything is up, after the sandbox's and the workers' start-up lines.
        urls_block = output.index("Ballot is running:")
        assert output.rindex("*** Listening on") < urls_block and output.index("Switches:") < urls_block, output
        assert processes_using(data) == [], f"left behind after run {attempt + 1}"


@pytest.mark.parametrize("command", ["run", "web", "worker"])
def test_production_will_not_start_embedded_servers(tmp_path: Path, command: str) -> None:
    """Embedded servers keep the night's money in a local folder, and `run` would seed an open demo contest."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(GATEWAY_ENV="production", SECRET_KEY="s" * 40, GATEWAY_DATA_DIR=str(tmp_path / "var"),
               LOG_JSON="false")
    result = gateway_process(command, env=env, timeout=60)
    assert result.returncode == 2 and "DATABASE_URL and REDIS_URL must be set in production" in result.stderr
    assert not (tmp_path / "var").exists()


async def test_reconcile_by_hand_prints_what_it_did(sessions: Sessions, env: dict[str, str]) -> None:
    result = gateway("reconcile", "--since", "2h", env=env)
    assert result.returncode == 0, result.stderr
    assert "checked 0 pending orders" in result.stdout
    bad = gateway("reconcile", "--since", "yesterday", env=env)
    assert bad.returncode == 2 and "30m, 2h or 7d" in bad.stderr


def imported_by(modules: str, condition: str) -> str:
    """The modules a new Python holds, of those `condition` (on `name`) picks, after importing `modules`."""
    probe = f"import sys, {modules}; print(sorted(name for name in sys.modules if {condition}))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_processes_that_read_no_telegram_update_or_number_do_not_load_the_bots_types_or_carriers() -> None:
    """aiogram's types take seconds of CPU to build, phonenumbers' carrier tables a tenth of a second: the CLI's
    commands and the worker (which list every channel) start without them; a web process loads the types as it starts
    when its bot is real, at the first update when it is the local fake (tests/channels/telegram/test_first_update.py),
    and a process loads the carriers at the first number outside Cameroon."""
    assert imported_by("assembly.cli, assembly.worker.rq_worker, assembly.worker.job_runtime",
                       "name.split('.')[0] == 'aiogram' or name.startswith('phonenumbers.carrier')") == "[]"


def test_processes_that_never_text_start_without_africas_talkings_sdk_and_requests() -> None:
    """The SDK and `requests` under it are tens of milliseconds of CPU at every start: the CLI, the supervisor and
    a web process go without them; a process loads them as it makes its messaging, to text."""
    assert imported_by("assembly.cli, assembly.machine.supervisor, assembly.web.app",
                       "name.split('.')[0] in ('africastalking', 'requests')") == "[]"
    texting = ("channels.phone.at_messaging.AtMessaging(channels.phone.at_account.AtAccount("
               "'sandbox', 'key', 'http://127.0.0.1:9', None, frozenset()))")
    assert imported_by(f"channels.phone.at_account, channels.phone.at_messaging; {texting}",
                       "name in ('africastalking.SMS', 'requests')") == "['africastalking.SMS', 'requests']"


def test_processes_of_an_installation_offering_no_cards_do_not_load_stripes_library() -> None:
    """Stripe's library is loaded where cards are offered (its keys set), as the web process or worker builds its
    providers, and nowhere else: as the package's own import promises."""
    built = "payments.stripe.provider.build(payments.stripe.settings.StripeSettings(), None)"  # no keys: no cards
    assert imported_by(f"assembly.cli, assembly.web.app, assembly.worker.rq_worker, payments.stripe.settings; {built}",
                       "name.split('.')[0] == 'stripe' or name == 'payments.stripe.checkout'") == "[]"


def test_a_workers_periodic_enqueuer_starts_without_the_channels_providers_or_models() -> None:
    """Each worker spawns its enqueuer, a new Python that imports the module of the function it runs: that module
    leaves out what the enqueuer never uses (a second of CPU and tens of MB a worker)."""
    assert imported_by("assembly.cli, assembly.worker.periodic_enqueuer",
                       "name.endswith(('.channel', '.provider')) or name.startswith(('assembly.channel_list', "
                       "'assembly.provider_list', 'gateway.db.models'))") == "[]"


def test_a_command_is_parsed_by_its_own_module_alone_and_refused_as_by_the_whole_parser() -> None:
    """Importing every channel and provider costs seconds of CPU: `gateway backup base` imports neither, while the
    modules named with their commands add exactly those, and a mistake is told with every command listed."""
    from assembly import commands
    from assembly.cli import build_parser

    def names(parser: argparse.ArgumentParser) -> list[str]:
        return next(list(action.choices) for action in parser._actions
                    if isinstance(action, argparse._SubParsersAction))

    modules = {**commands.BEFORE_CHANNELS, **commands.AFTER_CHANNELS}
    assert all(names(build_parser(module)) == list(added) for module, added in modules.items())
    assert set(names(build_parser())) - {name for added in modules.values() for name in added} == {
        "ussd", "sms", "telegram"}
    probe = ("import sys; from assembly.cli import parse; parse(['backup', 'base']); "
             "print(sorted(name for name in sys.modules if name.split('.')[0] in ('channels', 'payments') "
             "and name.endswith(('.channel', '.provider'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    refused = subprocess.run([sys.executable, "-m", "assembly.cli", "review", "--no-such-option"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "{run,stand-ins,web,worker," in refused.stderr and "unrecognized arguments: --no-such-option" in (
        refused.stderr)
