"""The board's fan-out server on this machine: Debian's nginx with Nchan, from deploy/nchan.conf.template.

`gateway fanout` runs it in the foreground (and `gateway run` does, when BOARD_FANOUT_URL names this machine);
the tests and `bench.stream --fanout` start it the same way. It is optional: without BOARD_FANOUT_URL each web
process streams the board to its own viewers, and nothing here is needed.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import string
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from gateway.kit.secret_rules import MIN_SECRET_LENGTH
from leaderboard.settings import PUBLISH_SECRET_CHARACTERS

NGINX = Path("/usr/sbin/nginx")
NCHAN_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")
TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nchan.conf.template"
DEFAULT_LISTEN = "127.0.0.1:8095"  # viewers (and, proxied, the rest of the service)
DEFAULT_PUBLISH = "127.0.0.1:8096"  # the service's publishers only
SHARDS_ENV = "LEADERBOARD_FANOUT_SHARDS"  # channels per board; unset: one
REDIS_ENV = "LEADERBOARD_FANOUT_REDIS_URL"  # a Redis shared by every fan-out server; unset: each its own memory
# Who may reach the publisher side (addresses or CIDRs, comma-separated): the balancer's address when the service
# publishes through one; unset: this machine only.
PUBLISH_ALLOW_ENV = "LEADERBOARD_FANOUT_PUBLISH_ALLOW"
LOOPBACK = ("127.0.0.1", "::1")
INSTALL_HINT = "the fan-out server is Debian's nginx with Nchan: run 'sudo apt-get install libnginx-mod-nchan'"


class FanoutUnavailable(RuntimeError):
    """nginx or its Nchan module is not installed here."""


@dataclass(frozen=True, slots=True)
class FanoutServer:
    listen: str = DEFAULT_LISTEN
    publish_listen: str = DEFAULT_PUBLISH
    service_url: str = "http://127.0.0.1:8080"  # "" behind a balancer: only streams come here
    workers: int = 2
    max_connections: int = 4096  # per worker (a viewer is one; a proxied request two)
    # Identical channels per board, each viewer on one by a stable hash (0: LEADERBOARD_FANOUT_SHARDS, else one).
    # One is the default from the figures (bench/RESULTS.md, "fanout-failover"): with Nchan 1.3.6 a channel's
    # owner worker only stores a frame and tells the others, and each worker writes to its own viewers, so one
    # channel's 20,000 viewers already cost each of 4 workers the same; shards only add a copy of every frame each.
    shards: int = 0
    # A Redis every fan-out server of the service shares (`nchan_use_redis`): "" keeps the channels in this one's
    # memory. Shared, any server takes the frames, and a viewer resuming on another finds the same ids.
    redis_url: str = ""
    redis_namespace: str = "ballot-fanout"  # the prefix of Nchan's keys in that Redis
    # What every publisher's request must carry (the service's BOARD_FANOUT_SECRET); unnamed, one of its own, which
    # nobody else knows.
    publish_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # The only sources the publisher side answers (the service's, or the balancer's in front of it); empty:
    # LEADERBOARD_FANOUT_PUBLISH_ALLOW, else this machine only.
    publish_allow: tuple[str, ...] = ()

    @property
    def shard_count(self) -> int:
        """The `shards` asked for, else LEADERBOARD_FANOUT_SHARDS (`gateway fanout`'s), else one."""
        return self.shards or shards_from_env() or 1

    @property
    def store_url(self) -> str:
        return self.redis_url or os.environ.get(REDIS_ENV, "").strip()

    @property
    def publish_sources(self) -> tuple[str, ...]:
        return self.publish_allow or publish_allow_from_env() or LOOPBACK

    @property
    def publish_url(self) -> str:
        """What the service's BOARD_FANOUT_URL is for this server."""
        return f"http://{self.publish_listen}/board/"

    @property
    def stream_base(self) -> str:
        return f"http://{self.listen}"


def installed() -> bool:
    return NGINX.exists() and NCHAN_MODULE.exists()


def config(server: FanoutServer, run_dir: Path) -> str:
    """The template filled in; nginx's own `$variables` are left as they are."""
    return string.Template(TEMPLATE.read_text()).safe_substitute(
        RUN_DIR=str(run_dir), WORKERS=str(server.workers), MAX_CONNECTIONS=str(server.max_connections),
        MAX_FILES=str(server.max_connections + 1000), LISTEN=server.listen, LISTEN_OPTIONS=listen_options(server),
        PUBLISH_LISTEN=server.publish_listen, PUBLISH_SECRET=checked_secret(server.publish_secret),
        PUBLISH_ACCESS=publish_access(server.publish_sources), FALLBACK=fallback(server.service_url),
        STORE=store(server), SHARD_SPLIT=shard_split(server.shard_count),
        SHARD_CHANNELS=shard_channels(server.shard_count))


def shards_from_env() -> int:
    """`LEADERBOARD_FANOUT_SHARDS`, else 0."""
    raw = os.environ.get(SHARDS_ENV, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or not 1 <= int(raw) <= 255:  # Nchan publishes to at most 255 channels at once
        raise ValueError(f"{SHARDS_ENV} must be a number of channels from 1 to 255, not {raw!r}")
    return int(raw)


def publish_allow_from_env() -> tuple[str, ...]:
    """`LEADERBOARD_FANOUT_PUBLISH_ALLOW`, each checked, else none."""
    sources = tuple(filter(None, (part.strip() for part in os.environ.get(PUBLISH_ALLOW_ENV, "").split(","))))
    for source in sources:
        try:
            ipaddress.ip_network(source, strict=False)
        except ValueError as exc:
            raise ValueError(f"{PUBLISH_ALLOW_ENV}: {source!r} is not an address or CIDR network") from exc
    return sources


def publish_access(sources: tuple[str, ...]) -> str:
    """nginx's lines for the publisher side: these sources, nobody else."""
    return " ".join(f"allow {ipaddress.ip_network(source, strict=False)};" for source in sources) + " deny all;"


def checked_secret(secret: str) -> str:
    """The publishers' secret as nginx's map reads it: never empty or shorter than the project's secrets (a door
    open to requests without the header, or a guessable one), never a character nginx would read otherwise."""
    if len(secret) < MIN_SECRET_LENGTH or not PUBLISH_SECRET_CHARACTERS.fullmatch(secret):
        raise ValueError(f"the fan-out server's publish secret must be {MIN_SECRET_LENGTH}+ letters, digits, "
                         "'-' or '_'")
    return secret


def shard_split(shards: int) -> str:
    """nginx's `split_clients` lines: an equal share of the hash's range to each shard (hundredths of a percent,
    the rest to the last)."""
    share = int(10_000 / shards) / 100
    return " ".join(f"{share:.2f}% {shard};" for shard in range(shards - 1)) + f" * {shards - 1};"


def shard_channels(shards: int) -> str:
    """A board's channels, for the publisher location: one POST puts the frame in every one of them."""
    return " ".join(f"$1.{shard}" for shard in range(shards))


def store(server: FanoutServer) -> str:
    if not server.store_url:
        return ""
    # nchan_redis_pass, which Nchan's start-up warning prefers, is not inherited from here by the locations (1.3.6
    # kept the channels in memory): the older pair is.
    return (f"nchan_redis_url {server.store_url}; nchan_use_redis on; "
            f"nchan_redis_namespace {server.redis_namespace};")


def listen_options(server: FanoutServer) -> str:
    """`reuseport` spreads the viewers' connections evenly over several workers (one socket each); with one worker
    it would only let another server bind the same port and share its traffic, where a clash should fail."""
    return "reuseport " if server.workers > 1 else ""


def fallback(service_url: str) -> str:
    """What nginx does with a request that is not a board's stream: proxy it to the service, or (no service) 404."""
    if not service_url:
        return "return 404;"
    return (f"proxy_pass {service_url}; proxy_http_version 1.1; proxy_set_header Host $http_host; "
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_buffering off;")


def prepare(server: FanoutServer, run_dir: Path) -> list[str]:
    """Write the configuration under `run_dir`; the command that runs nginx in the foreground on it."""
    if not installed():
        raise FanoutUnavailable(INSTALL_HINT)
    run_dir = run_dir.resolve()  # nginx reads a relative -c and the config's paths below -p: `make run`'s ./var
    run_dir.mkdir(parents=True, exist_ok=True)
    conf = run_dir / "nginx.conf"
    text = config(server, run_dir)
    conf.unlink(missing_ok=True)  # written afresh, readable by its owner only: it holds the publishers' secret
    descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    return [str(NGINX), "-e", "stderr", "-p", str(run_dir), "-c", str(conf)]


def start(server: FanoutServer, run_dir: Path) -> subprocess.Popen[bytes]:
    """nginx in a process group of its own (its master and workers stop together)."""
    return subprocess.Popen(prepare(server, run_dir), start_new_session=True)


def publish_address(board_fanout_url: str) -> tuple[str, int]:
    parts = urlsplit(board_fanout_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def runs_here(board_fanout_url: str) -> bool:
    """Whether `gateway run` should start the fan-out server itself: its publisher address is this machine's."""
    return bool(board_fanout_url) and publish_address(board_fanout_url)[0] in ("127.0.0.1", "localhost")


def exec_nginx(server: FanoutServer, run_dir: Path) -> None:
    """Become nginx (the `gateway fanout` command): signals and exit status are then nginx's own."""
    command = prepare(server, run_dir)
    os.execv(command[0], command)
