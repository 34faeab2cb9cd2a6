"""`gateway run`: everything on one machine — embedded servers, migrations, demo data, then the
web process(es), the worker and the payment sandboxes as child processes. Ctrl-C stops it all."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis
from rq import Worker
from rq.worker import WorkerStatus

from channels.sms.fake_at import DEFAULT_URL as AT_FAKE_URL
from gateway.config import Settings, check_servers, telegram_bot_address, telegram_webhook_secret
from gateway.db import migrate
from gateway.db.engine import create_engine, session_factory
from gateway.db.seed import seed_demo
from gateway.embedded import export_urls, service_urls
from gateway.jobs.queues import sync_redis

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 30  # a web process lets provider calls under way finish (payment_starts)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    args: tuple[str, ...]
    module: str
    restarts: list[float] = field(default_factory=list)


def spawn(name: str, *args: str, module: str = "gateway.cli") -> Child:
    command = [sys.executable, "-m", module, *args]
    # Own process group: Ctrl-C reaches the supervisor only, which then stops children in order.
    process = subprocess.Popen(command, env=os.environ.copy(), start_new_session=True)
    return Child(name, process, args, module)


async def prepare_database(database_url: str, *, seed: bool) -> None:
    await migrate.upgrade_async(database_url)
    if not seed:
        return
    engine = create_engine(database_url, pool_size=1)
    try:
        await seed_demo(session_factory(engine))
    finally:
        await engine.dispose()


def stop_children(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in reversed(children):
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %ss; killing it", child.name, STOP_GRACE_SECONDS)
            child.process.kill()
            child.process.wait()
        kill_leftovers(child)


def kill_leftovers(child: Child) -> None:
    """Kill what an exited child left running in its process group (RQ's scheduler, our periodic
    enqueuer): a child killed with SIGKILL cannot stop them, and its replacement starts its own."""
    try:
        os.killpg(child.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # nothing left
        pass


def sandbox_needed(settings: Settings) -> bool:
    """In development, the local MTN/Orange sandbox stands in for any provider without credentials."""
    if settings.is_production or not settings.sandbox_enabled:
        return False
    return bool(settings.missing_provider_credentials("mtn") or settings.missing_provider_credentials("orange"))


def sandbox_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 8090


# SMS voting (issue 17): without AT credentials, development sends SMS to a local fake of AT's API.
def at_fake_needed(settings: Settings) -> bool:
    credentials = settings.at_username and settings.at_api_key
    return not settings.is_production and settings.sandbox_enabled and not credentials


def at_fake_address(settings: Settings) -> tuple[str, int]:
    parts = urlsplit(settings.at_fake_url or AT_FAKE_URL)
    return parts.hostname or "127.0.0.1", parts.port or 8091


# Telegram (issue 18): in development without a token, the bot talks to a local fake Bot API.
def fake_bot_api_needed(settings: Settings) -> bool:
    address = telegram_bot_address(settings)
    return address is not None and address.fake and address.api_base == settings.telegram_fake_api_url


def spawn_fake_bot_api(settings: Settings) -> Child:
    host, port = sandbox_address(settings.telegram_fake_api_url)
    webhook = f"{settings.public_base_url.rstrip('/')}/telegram/webhook"
    return spawn("telegram-fake", "--host", host, "--port", str(port), "--webhook-url", webhook,
                 "--secret", telegram_webhook_secret(settings) or "", module="channels.telegram.fake_api")


def announce(settings: Settings) -> None:
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    lines = [
        "",
        "Ballot is running:",
        f"  public API    {base}/api/v1/contests",
        f"  demo contest  {base}/api/v1/contests/demo",
        f"  readiness     {base}/readyz",
        f"  metrics       {base}/metrics",
    ]
    if sandbox_needed(settings):
        lines.append(f"  pay sandbox   {settings.sandbox_url}/  (MTN + Orange; payer numbers ending 450-455 fail)")
    if at_fake_needed(settings):  # SMS voting (issue 17)
        lines.append(f"  SMS (AT fake) {settings.at_fake_url or AT_FAKE_URL}/messages  "
                     "(text it: gateway sms --from +237670000001 \"VOTE 07 5\")")


    if fake_bot_api_needed(settings):  # Telegram (issue 18)
        lines.append(f"  telegram      {settings.telegram_fake_api_url}/_calls  "
                     "(fake Bot API; try gateway telegram --simulate)")
    lines += ["Press Ctrl-C to stop everything.", ""]
    print("\n".join(lines), flush=True)


UP_TIMEOUT_SECONDS = 60


def listening(host: str, port: int) -> bool:
    """Whether a server accepts connections (aiohttp binds once its app has started); a request would add
    a line to the very log this waits for."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def workers_listening(connection: redis.Redis, children: list[Child]) -> bool:
    """Whether every worker child has written its start-up lines and now waits for (or does) jobs."""
    pids = {child.process.pid for child in children if child.args[:1] == ("worker",)}
    try:
        ready = {worker.pid for worker in Worker.all(connection=connection)
                 if worker.get_state() in (WorkerStatus.IDLE, WorkerStatus.BUSY)}
    except redis.RedisError:
        return False
    return pids <= ready


def wait_until_up(settings: Settings, redis_url: str, children: list[Child], stopping: Callable[[], bool]) -> None:
    """Wait for the web, the sandbox and the workers to be up, so that the URLs block comes after their
    start-up lines; gives up when a child exits (the main loop restarts it), on Ctrl-C, or after a minute."""
    servers = [(settings.gateway_host, settings.gateway_port)]
    if any(child.name == "sandbox" for child in children):
        servers.append(sandbox_address(settings.sandbox_url))
    if any(child.name == "at-fake" for child in children):  # SMS voting (issue 17)
        servers.append(at_fake_address(settings))
    deadline = time.monotonic() + UP_TIMEOUT_SECONDS
    with sync_redis(redis_url) as connection:
        while time.monotonic() < deadline and not stopping() and all(c.process.poll() is None for c in children):
            if all(listening(*server) for server in servers) and workers_listening(connection, children):
                return
            time.sleep(0.2)


def run_everything(settings: Settings) -> int:
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    check_servers(settings)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    with service_urls(settings.database_url, settings.redis_url, settings.gateway_data_dir) as urls:
        export_urls(urls)
        # The demo contest takes real money where providers are real: never seeded in production.
        asyncio.run(prepare_database(urls.database_url, seed=not settings.is_production))
        children = []
        if sandbox_needed(settings):
            host, port = sandbox_address(settings.sandbox_url)
            children.append(spawn("sandbox", "--host", host, "--port", str(port), module="payments.sandbox"))
        if at_fake_needed(settings):  # SMS voting (issue 17): the children send their SMS to it
            host, port = at_fake_address(settings)
            os.environ["AT_FAKE_URL"] = f"http://{host}:{port}"
            children.append(spawn("at-fake", "--host", host, "--port", str(port), module="channels.sms.fake_at"))


        if fake_bot_api_needed(settings):  # Telegram (issue 18)
            children.append(spawn_fake_bot_api(settings))
        # One worker also runs the periodic jobs; the others only take jobs.
        children.append(spawn("worker-0", "worker"))
        children += [spawn(f"worker-{i}", "worker", "--no-cron") for i in range(1, settings.gateway_worker_processes)]
        children += [spawn(f"web-{i}", "web") for i in range(settings.gateway_web_processes)]
        wait_until_up(settings, urls.redis_url, children, lambda: stop_requested)
        if not stop_requested:
            announce(settings)
        exit_code = 0
        try:
            while not stop_requested:
                if not restart_dead(children):
                    exit_code = 1
                    break
                time.sleep(0.2)
        finally:
            stop_children(children)
    print("Ballot stopped.", flush=True)
    return exit_code


MAX_RESTARTS_PER_MINUTE = 5


def restart_dead(children: list[Child]) -> bool:
    """Start again any child that died (as a process manager would); False if one keeps dying."""
    now = time.monotonic()
    for index, child in enumerate(children):
        if child.process.poll() is None:
            continue
        recent = [t for t in child.restarts if now - t < 60]
        if len(recent) >= MAX_RESTARTS_PER_MINUTE:
            log.error("%s keeps exiting (last code %s); stopping everything", child.name, child.process.returncode)
            kill_leftovers(child)  # now, while its group id cannot belong to anyone else
            return False
        log.warning("%s exited with %s; starting it again", child.name, child.process.returncode)
        kill_leftovers(child)
        replacement = spawn(child.name, *child.args, module=child.module)
        replacement.restarts = [*recent, now]
        children[index] = replacement
    return True
