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
from functools import partial
from typing import Any

import redis
from rq import Worker
from rq.worker import WorkerStatus

from assembly.channel_list import CHANNELS, MIGRATIONS
from assembly.machine import fanout_server
from assembly.machine.banner import banner_lines, media_server_needed
from assembly.machine.database_connections import most_connections
from assembly.machine.demo import seed_demos
from assembly.machine.demo_media import demo_storage
from assembly.machine.embedded import export_urls, service_urls
from assembly.machine.liveness import HeartbeatPipe, Replacements
from assembly.machine.shared_metrics import forget, prepare
from assembly.operations.backups import backup_place
from assembly.operations.restore import wait_until_writable
from assembly.operations.restored_folder import StartStopped
from assembly.provider_list import PROVIDERS
from assembly.resources.media import cloudinary_stand_in_needed, media_address
from assembly.settings import Settings, check_servers
from gateway.db import migrate
from gateway.db.engine import create_engine, session_factory
from gateway.jobs.queues import MEDIA_QUEUE, sync_redis
from gateway.kit.stand_ins import StandIn, listen_address
from media.local_storage import LocalStorage

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 30  # a web process lets provider calls under way finish (gateway.core.money_in.start_queue)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    args: tuple[str, ...]
    module: str
    restarts: list[float] = field(default_factory=list)
    heartbeat: HeartbeatPipe | None = None  # a web process's or worker's: replaced when it stops beating
    killed_silent: bool = False


def spawn(name: str, *args: str, module: str = "assembly.cli", frozen_after: float | None = None) -> Child:
    """A child process; one given `frozen_after` (a web process, a worker) beats down a pipe
    (`assembly.machine.heartbeat`), and is replaced once silent for that many seconds."""
    command = [sys.executable, "-m", module, *args]
    heartbeat = HeartbeatPipe(frozen_after) if frozen_after is not None else None
    environment = os.environ | (heartbeat.child_environment() if heartbeat else {})
    try:
        # Own process group: Ctrl-C reaches the supervisor only, which then stops children in order.
        process = subprocess.Popen(command, env=environment, start_new_session=True,
                                   pass_fds=(heartbeat.write_end,) if heartbeat else ())
    finally:
        if heartbeat is not None:
            heartbeat.started_child()
    return Child(name, process, args, module, heartbeat=heartbeat)


async def prepare_database(database_url: str, *, seed: bool, storage: LocalStorage | None = None,
                           stopping: Callable[[], bool] = lambda: False) -> None:
    """Once the database opens for writes (a restored one replays its WAL first), the schema brought up to date;
    with `seed`, the demo contest (its clips made here, once, into `storage`: a few seconds of the first start, never
    a web process's work)."""
    if not await wait_until_writable(database_url, stopping):
        return
    await migrate.upgrade_async(database_url, MIGRATIONS)
    if not seed:
        return
    engine = create_engine(database_url, pool_size=1)
    try:
        await seed_demos(session_factory(engine), storage)
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
        if child.heartbeat is not None:
            child.heartbeat.close()


def kill_leftovers(child: Child) -> None:
    """Kill what an exited child left running in its process group (RQ's scheduler, our periodic
    enqueuer): a child killed with SIGKILL cannot stop them, and its replacement starts its own. Its live
    gauges leave the figures the processes share (`assembly.machine.shared_metrics`)."""
    try:
        os.killpg(child.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # nothing left
        pass
    forget(child.process.pid)


def stand_ins_needed(settings: Settings) -> list[StandIn[Any]]:
    """The providers' and channels' local fakes of outside services (the payment sandbox, Africa's Talking, the Bot
    API) these settings need, each once: two providers may declare the same one (the MTN/Orange sandbox)."""
    declared = [*(stand_in for parts in PROVIDERS for stand_in in parts.stand_ins),
                *(stand_in for parts in CHANNELS for stand_in in parts.stand_ins)]
    needed: dict[str, StandIn[Any]] = {}
    for stand_in in declared:
        if stand_in.name not in needed and stand_in.needed(settings):
            needed[stand_in.name] = stand_in
    return list(needed.values())


def spawn_stand_in(stand_in: StandIn[Any], settings: Settings) -> Child:
    host, port = stand_in.address(settings)
    # Through assembly.machine.stand_in_logs: the stand-in logs at STAND_IN_LOG_LEVEL (WARNING unless asked).
    return spawn(stand_in.name, stand_in.module, "--host", host, "--port", str(port), *stand_in.args(settings),
                 module="assembly.machine.stand_in_logs")


def announce(settings: Settings) -> None:
    print("\n".join(banner_lines(settings, stand_ins_needed(settings))), flush=True)


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
    running = {child.name for child in children}
    servers += [stand_in.address(settings) for stand_in in stand_ins_needed(settings) if stand_in.name in running]
    if "media" in running:
        servers.append(media_address(settings))
    if "cloudinary" in running:
        servers.append(listen_address(settings.cloudinary_stand_in_url, 8094))
    deadline = time.monotonic() + UP_TIMEOUT_SECONDS
    with sync_redis(redis_url) as connection:
        while time.monotonic() < deadline and not stopping() and all(c.process.poll() is None for c in children):
            if all(listening(*server) for server in servers) and workers_listening(connection, children):
                return
            time.sleep(0.2)


@dataclass(frozen=True)
class WantedStandIn:
    name: str
    address: tuple[str, int]
    start: Callable[[], Child]


def wanted_stand_ins(settings: Settings) -> list[WantedStandIn]:
    """The local stand-ins these settings need: the providers' payment sandbox, the channels' fakes of AT and the Bot
    API, the media server, Cloudinary's stand-in and the board's fan-out server."""
    wanted: list[WantedStandIn] = []
    for stand_in in stand_ins_needed(settings):  # the providers' and channels' fakes (the sandbox, AT, the Bot API)
        os.environ.update(stand_in.environment(settings))  # e.g. where every child sends its SMS
        wanted.append(WantedStandIn(stand_in.name, stand_in.address(settings),
                                    partial(spawn_stand_in, stand_in, settings)))
    if media_server_needed(settings):  # candidates' uploads in, their clips out (never through a web process)
        wanted.append(WantedStandIn("media", media_address(settings), partial(spawn, "media", "media")))
    if cloudinary_stand_in_needed(settings):  # Cloudinary's upload API, its renditions and notifications
        host, port = listen_address(settings.cloudinary_stand_in_url, 8094)
        wanted.append(WantedStandIn("cloudinary", (host, port), partial(
            spawn, "cloudinary", "--host", host, "--port", str(port), "--data-dir",
            str(settings.gateway_data_dir / "cloudinary"), module="media.cloudinary_stand_in")))
    if fanout_server.runs_here(settings.board_fanout_url) and not fanout_server.installed():
        log.error("BOARD_FANOUT_URL names this machine, but %s (or `make fanout`); the board's frames "
                  "will not reach viewers until it runs", fanout_server.INSTALL_HINT)
    elif fanout_server.runs_here(settings.board_fanout_url):  # the board's fan-out server (nginx with Nchan)
        wanted.append(WantedStandIn("fanout", fanout_server.publish_address(settings.board_fanout_url),
                                    partial(spawn, "fanout", "fanout")))
    return wanted


def stand_ins(settings: Settings, borrowed: list[WantedStandIn] | None = None) -> list[Child]:
    """The stand-ins these settings need, started, but for those already answering at their address: another host
    on this machine, or `gateway stand-ins`, runs them, and every host uses the same ones (listed in `borrowed`)."""
    children = []
    for wanted in wanted_stand_ins(settings):
        if listening(*wanted.address):
            log.warning("%s already answers at %s:%s (another host's, or `gateway stand-ins`): using it",
                        wanted.name, *wanted.address)
            if borrowed is not None:
                borrowed.append(wanted)
        else:
            children.append(wanted.start())
    return children


def start_orphaned(borrowed: list[WantedStandIn], claim: Callable[[str], bool]) -> list[Child]:
    """Borrowed stand-ins that no longer answer (the host that ran them stopped or died with them): started here
    and kept as this host's own. `claim` lets one host only start each (the others go on borrowing it)."""
    started = []
    for wanted in list(borrowed):
        if not listening(*wanted.address) and claim(wanted.name):
            log.warning("%s no longer answers at %s:%s (the host that ran it is gone): starting it here",
                        wanted.name, *wanted.address)
            borrowed.remove(wanted)
            started.append(wanted.start())
    return started


STAND_IN_CLAIM_SECONDS = 30  # long enough for a stand-in to start listening


def claim_in(connection: redis.Redis) -> Callable[[str], bool]:
    """A stand-in's start claimed in Redis, which every host shares: the first host to ask starts it."""
    return lambda name: bool(connection.set(f"gateway:stand-in-start:{name}", os.getpid(), nx=True,
                                            ex=STAND_IN_CLAIM_SECONDS))


def run_stand_ins(settings: Settings) -> int:
    """`gateway stand-ins`: only the local stand-ins of the outside services, for hosts run beside each other on
    one machine (each `gateway run` then uses them rather than starting its own, and outlives the others)."""
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    children = stand_ins(settings)
    try:
        while not stop_requested and restart_dead(children):
            time.sleep(0.2)
    finally:
        stop_children(children)
    return 0


def run_everything(settings: Settings) -> int:
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    check_servers(settings)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    exit_code = 0
    try:
        with service_urls(settings.database_url, settings.redis_url, settings.gateway_data_dir,
                          archive_to=backup_place(settings).root, stopping=lambda: stop_requested,
                          max_connections=most_connections(settings)) as urls:
            export_urls(urls)
            # The demo contest takes real money where providers are real: never seeded in production.
            asyncio.run(prepare_database(urls.database_url, seed=not settings.is_production,
                                         storage=demo_storage(settings), stopping=lambda: stop_requested))
            if not stop_requested:  # stopped while the database replayed: nothing else was started
                exit_code = serve(settings, urls.redis_url, lambda: stop_requested)
    except StartStopped as stopped:  # Ctrl-C while the embedded PostgreSQL replayed or took its base backup
        log.warning("%s", stopped)
    print("Ballot stopped.", flush=True)
    return exit_code


def serve(settings: Settings, redis_url: str, stopping: Callable[[], bool]) -> int:
    """The stand-ins, workers and web processes started, then looked after until `stopping` (exit code 0) or one
    keeps dying (1); all stopped again."""
    borrowed: list[WantedStandIn] = []
    children = stand_ins(settings, borrowed)
    # The web processes and workers add up their figures there: a scrape of the shared port serves the sum.
    prepare(settings.gateway_data_dir)
    frozen_after = settings.gateway_frozen_after_seconds  # each web process and worker replaced once that silent
    # One worker also runs the periodic jobs; the others only take jobs.
    children.append(spawn("worker-0", "worker", frozen_after=frozen_after))
    children += [spawn(f"worker-{i}", "worker", "--no-cron", frozen_after=frozen_after)
                 for i in range(1, settings.gateway_worker_processes)]
    children += [spawn(f"web-{i}", "web", frozen_after=frozen_after) for i in range(settings.gateway_web_processes)]
    # Clips are transcoded by workers of their own: at most this many ffmpeg at once, beside the votes.
    children += [spawn(f"media-worker-{i}", "worker", "--no-cron", "--queue", MEDIA_QUEUE, frozen_after=frozen_after)
                 for i in range(settings.media_workers)]
    replacements = Replacements(child.name for child in children if child.heartbeat is not None)
    wait_until_up(settings, redis_url, children, stopping)
    if not stopping():
        announce(settings)
    try:
        with sync_redis(redis_url) as connection:
            claim, next_look = claim_in(connection), 0.0
            while not stopping():
                if not look_after(children, replacements):
                    return 1
                if borrowed and time.monotonic() >= next_look:
                    children += start_orphaned(borrowed, claim)
                    next_look = time.monotonic() + BORROWED_LOOK_SECONDS
                time.sleep(LOOK_SECONDS)
    finally:
        stop_children(children)
    return 0


MAX_RESTARTS_PER_MINUTE = 5
LOOK_SECONDS = 0.2  # between two looks at the children: a dead or silent one is replaced within that
BORROWED_LOOK_SECONDS = 2.0


def look_after(children: list[Child], replacements: Replacements) -> bool:
    """One look of the supervisor: kill the children that stopped answering, then start again every dead one."""
    kill_silent(children, replacements)
    return restart_dead(children)


def kill_silent(children: list[Child], replacements: Replacements) -> None:
    """Kill each watched child that stopped beating, with its process group: a process alive but stuck keeps its
    listening socket open, and the kernel goes on handing it new connections nobody answers."""
    now = time.monotonic()
    for child in children:
        if child.heartbeat is None or child.killed_silent or child.process.poll() is not None:
            continue
        if child.heartbeat.frozen(now):
            log.error("%s (pid %s) has not answered for %.0f s (its loop held, or the process stopped): killing it, "
                      "another starts now", child.name, child.process.pid, child.heartbeat.silent_for(now))
            child.killed_silent = True
            kill_leftovers(child)
            replacements.count(child.name)


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
        if child.heartbeat is not None:
            child.heartbeat.close()
        replacement = spawn(child.name, *child.args, module=child.module,
                            frozen_after=child.heartbeat.frozen_after if child.heartbeat is not None else None)
        replacement.restarts = [*recent, now]
        children[index] = replacement
    return True
