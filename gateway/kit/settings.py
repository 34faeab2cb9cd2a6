"""The settings every package shares (where the service runs, its secret key, its servers, its proxies), the base
of each package's own settings model; the assembly composes `Settings` from all of them (assembly.settings).

Each model reads its fields from the environment, so a package's tool (a simulator) can read its own model alone.
"""

from __future__ import annotations

import functools
import ipaddress
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.jobs.redis_connections import redis_url_problem
from gateway.kit.secret_rules import (  # re-exported: the rules every secret setting is held to
    DEV_SECRET_KEY,
    MIN_CALLBACK_TOKEN_LENGTH,
    MIN_PROVIDER_SECRET_LENGTH,
    secret_problem,
)

__all__ = ["DEV_SECRET_KEY", "MIN_CALLBACK_TOKEN_LENGTH", "MIN_PROVIDER_SECRET_LENGTH", "secret_problem"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names it."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """The settings of the service as a whole; environment names match the architecture note."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    gateway_env: Environment = Environment.DEVELOPMENT
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    gateway_data_dir: Path = Path("./var")
    gateway_web_processes: int = Field(default=1, ge=1)
    # Each takes the queue's jobs one at a time, and a job mostly waits (on PostgreSQL, on a provider, on the CPU):
    # with 2, a 10-minute rehearsal at a 25/s peak left its SMS waiting ~20 s for their answer, with 4 none waited
    # over half a second (bench/RESULTS.md, "rehearsal-peak-25-workers-4").
    gateway_worker_processes: int = Field(default=4, ge=1)
    # A worker's niceness (0-19): with the cores full, the web processes (the voters' requests, the callbacks, the
    # board's streams) get the CPU first and the workers' queues wait. A 45/s rehearsal peak with the workers at 10
    # rather than 0: board frames within 1 s 80.7% -> 87.4%, SMS answers as prompt (bench/RESULTS.md, "Workers nicer
    # than the web processes"; assembly/machine/priority.py).
    gateway_worker_niceness: int = Field(default=10, ge=0, le=19)
    database_url: str | None = None
    # PostgreSQL's backups: the WAL archive (wal/) and base backups (base/); unset: GATEWAY_DATA_DIR/backups. A
    # restore needs binaries of the backup's major version: found in Debian's and the embedded default's folders,
    # or named here.
    backup_dir: Path | None = None
    postgres_bin_dir: Path | None = None
    redis_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8080"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    log_level: str = "INFO"
    log_json: bool | None = None  # unset: one short line each in development on a terminal, JSON otherwise
    # Who may read /metrics (it counts orders): comma-separated addresses/CIDRs, from the direct peer only
    # (unset: loopback in development, nobody in production; empty: nobody), or any request with
    # `Authorization: Bearer <METRICS_TOKEN>` (16+ characters).
    metrics_allow: str | None = None
    metrics_token: SecretStr | None = None
    # One-time codes proving a candidate's number: texted only to mobiles of these countries (the ones the
    # service is run in: its providers' markets in West, Central and East Africa, M-Pesa's and Airtel's included).
    # Each contest's call has a day's budget of them, its organiser's figure (or the default here), never more than
    # the ceiling: whoever spends one contest's codes stops no other contest's.
    entry_phone_regions: str = "CM,CI,SN,GA,CG,CD,TD,CF,GQ,BJ,TG,BF,ML,NE,NG,GH,GN,KE,UG,TZ,RW,ZM,MW,MG"
    entry_codes_default_per_day: int = Field(default=200, ge=1)
    entry_codes_per_day: int = Field(default=2000, ge=1)  # the ceiling of a contest's figure
    # Codes proving an organiser's payout wallet: a day's budget of their own (entry codes never spend it).
    payout_codes_per_day: int = Field(default=200, ge=1)
    # What asking for an entry code costs the asker first: a proof of work of this many bits (2^18 SHA-256
    # hashes on average, about a second of a phone's browser), two more as a contest's day's budget runs low.
    code_work_bits: int = Field(default=18, ge=1, le=28)
    # Development talks to local stand-ins of the outside services that have no credentials (the payment
    # sandbox, the channels' fakes); false: never.
    sandbox_enabled: bool = True

    # How long a pending order waits for its payment before it is expired (MTN: ~5-7 min).
    order_pending_ttl_seconds: int = 600
    # Group commit: the connections a web process counts paying callbacks on at once
    # (gateway.core.orders.count_batches). A callback that finds one free is counted at once; those that arrive while
    # all are busy are counted together in one transaction when one frees. 0 counts each callback on a connection and
    # in a transaction of its own.
    count_batch_lanes: int = Field(default=1, ge=0, le=8)

    # Peers whose X-Forwarded-For is believed (comma-separated addresses or CIDRs): our own reverse
    # proxies. Unset: loopback in development, nobody in production; "" trusts nobody.
    trusted_proxies: str | None = None
    # A request's body must arrive within this long after its headers (else 408, and the connection is closed).
    request_body_seconds: float = Field(default=10.0, gt=0)

    # Signed results: the Ed25519 key that signs results sheets, PEM (PKCS#8) or base64 of its 32 raw
    # bytes. Required in production; in development a key is made once in GATEWAY_DATA_DIR.
    results_signing_key: SecretStr | None = None
    # "My vote counted": look-ups of an order reference per client address and minute.
    receipt_lookups_per_minute: int = Field(default=10, ge=1)
    # …and from all addresses together: references are 8 hex digits, so a guesser with many addresses (an IPv6
    # /48 is 65,536 of our /64s) must not sample a sealed contest's orders at will.
    receipt_lookups_per_minute_total: int = Field(default=600, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str | None) -> str | None:
        if value is not None:
            parse_networks(value)  # a typo stops start-up rather than trusting nobody (or everybody)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_parses(cls, value: str | None) -> str | None:
        # A typo in a Sentinel URL stops start-up with its reason, not the first vote with a connection error.
        if value and (problem := redis_url_problem(value)):
            raise ValueError(problem)
        return value

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        """The peers whose X-Forwarded-For is read (see `gateway.kit.throttle.address_key`)."""
        if self.trusted_proxies is None:
            return () if self.is_production else LOOPBACK
        return parse_networks(self.trusted_proxies)

    @property
    def is_production(self) -> bool:
        return self.gateway_env is Environment.PRODUCTION


@functools.lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple[Network, ...]:
    """"10.0.0.0/8, 192.168.1.5" as networks (a bare address is a network of one); ValueError names a bad one."""
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an address or CIDR network") from exc
    return tuple(networks)


def check_servers(settings: ServiceSettings) -> None:
    """Production keeps its data on servers of its own: embedded ones live in a local folder."""
    if settings.is_production and not (settings.database_url and settings.redis_url):
        raise ConfigError("DATABASE_URL and REDIS_URL must be set in production")


def results_key_problem(settings: ServiceSettings) -> str | None:
    """Production signs results with a key of its own: none, or one that cannot be read, refuses to start."""
    from gateway.core.results.signing import BadKey, private_key

    if settings.results_signing_key is None or not settings.results_signing_key.get_secret_value().strip():
        return "RESULTS_SIGNING_KEY must be set (an Ed25519 key: results sheets are signed with it)"
    try:
        private_key(settings.results_signing_key.get_secret_value())
    except BadKey:
        return "RESULTS_SIGNING_KEY must be an Ed25519 private key (PEM, or base64 of its 32 raw bytes)"
    return None


def service_problems(settings: ServiceSettings) -> list[str]:
    """What stops production in the service's own settings: a default or weak secret, embedded servers, plain
    HTTP, an unreadable results key."""
    problems: list[str] = []
    if secret_key := secret_problem("SECRET_KEY", settings.secret_key):
        problems.append(secret_key)
    if not settings.database_url:
        problems.append("DATABASE_URL must be set (the embedded database is for development)")
    if not settings.redis_url:
        problems.append("REDIS_URL must be set (the embedded Redis is for development)")
    if not settings.public_base_url.startswith("https://"):
        problems.append("PUBLIC_BASE_URL must be an https:// address: providers call it back with payment news, "
                        "and the CSRF cookie is bound to the site only over HTTPS")
    return problems


def metrics_token_problem(settings: ServiceSettings) -> str | None:
    """METRICS_TOKEN is checked whenever it is set."""
    if settings.metrics_token:
        return secret_problem("METRICS_TOKEN", settings.metrics_token, MIN_CALLBACK_TOKEN_LENGTH)
    return None
