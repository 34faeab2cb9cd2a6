"""The deploy/cluster templates rendered for one cluster: what ships is what the suite and the bench run, only the
addresses, ports, folders and Patroni's timings changed (the suite's cluster shares one machine, so no default port).

Each function takes the template's placeholders and the overrides the suite needs, and returns the file's text (or,
for etcd, its environment)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

from assembly.operations.backups import archive_settings

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy" / "cluster"
PATRONI_TEMPLATE = DEPLOY / "patroni.yml"
ETCD_TEMPLATE = DEPLOY / "etcd.env"
HAPROXY_TEMPLATE = DEPLOY / "haproxy-postgres.cfg"


@dataclass(frozen=True)
class Timings:
    """Patroni's timings (seconds). The defaults are Patroni's and the deploy template's; Patroni refuses a set where
    loop_wait + 2 * retry_timeout > ttl."""

    ttl: int = 30
    loop_wait: int = 10
    retry_timeout: int = 10

    def __post_init__(self) -> None:
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            raise ValueError(f"Patroni needs loop_wait + 2 * retry_timeout <= ttl: {self}")


@dataclass(frozen=True)
class Passwords:
    superuser: str
    replication: str
    rewind: str


def filled(template: Path, values: Mapping[str, str]) -> str:
    """The template with every ${NAME} replaced; a placeholder left without a value is an error, not a blank."""
    text = template.read_text()
    missing = {name for name in re.findall(r"\$\{(\w+)\}", text)} - set(values)
    if missing:
        raise KeyError(f"{template.name}: no value for {sorted(missing)}")
    return Template(text).safe_substitute(values)


def set_path(config: dict[str, Any], dotted: str, value: object) -> None:
    """config["a"]["b"] = value for "a.b", the folders made on the way."""
    *parents, last = dotted.split(".")
    for key in parents:
        config = config.setdefault(key, {})
    config[last] = value


def patroni_config(*, name: str, address: str, port: int, rest_port: int, etcd_hosts: Sequence[str], data_dir: Path,
                   socket_dir: Path, cluster_network: str, service_network: str, passwords: Passwords,
                   backup_dir: Path, timings: Timings | None = None,
                   overrides: Mapping[str, object] | None = None) -> str:
    """deploy/cluster/patroni.yml for one node: its ports (the template's are PostgreSQL's and Patroni's defaults),
    Patroni's timings, and `overrides` ("bootstrap.dcs.ttl": 8, …) on top. The primary archives into
    `backup_dir`/wal."""
    text = filled(PATRONI_TEMPLATE, {
        "NODE_NAME": name, "NODE_ADDRESS": address, "ETCD_HOSTS": ",".join(etcd_hosts), "DATA_DIR": str(data_dir),
        "SOCKET_DIR": str(socket_dir), "CLUSTER_NETWORK": cluster_network, "SERVICE_NETWORK": service_network,
        "SUPERUSER_PASSWORD": passwords.superuser, "REPLICATION_PASSWORD": passwords.replication,
        "REWIND_PASSWORD": passwords.rewind, "BACKUP_DIR": str(backup_dir)})
    config: dict[str, Any] = yaml.safe_load(text)
    same_archiving_as_printed(config["bootstrap"]["dcs"]["postgresql"]["parameters"], backup_dir)
    timings = timings or Timings()
    changes: dict[str, object] = {
        "restapi.listen": f"{address}:{rest_port}", "restapi.connect_address": f"{address}:{rest_port}",
        "postgresql.listen": f"{address}:{port}", "postgresql.connect_address": f"{address}:{port}",
        "bootstrap.dcs.ttl": timings.ttl, "bootstrap.dcs.loop_wait": timings.loop_wait,
        "bootstrap.dcs.retry_timeout": timings.retry_timeout, **(overrides or {})}
    for dotted, value in changes.items():
        set_path(config, dotted, value)
    return str(yaml.safe_dump(config, sort_keys=False))


def same_archiving_as_printed(parameters: Mapping[str, object], backup_dir: Path) -> None:
    """The template's archive settings are written out by hand (an operator fills in a folder, not a shell
    command): they must stay what `BACKUP_DIR=<backup_dir> gateway backup settings` prints, or the cluster would
    archive in a way the drill and the docs never saw."""
    printed = archive_settings(backup_dir / "wal")
    shipped = {name: str(parameters.get(name)) for name in printed}
    if shipped != printed:
        raise ValueError(f"{PATRONI_TEMPLATE}: archive settings differ from `gateway backup settings`: {shipped} "
                         f"!= {printed}")


def etcd_environment(*, name: str, address: str, client_port: int, peer_port: int, data_dir: Path,
                     initial_cluster: Mapping[str, str]) -> dict[str, str]:
    """deploy/cluster/etcd.env for one member, as the environment etcd reads; `initial_cluster` maps each member's
    name to its peer URL. The template's ports (etcd's defaults) replaced by the member's."""
    text = filled(ETCD_TEMPLATE, {
        "MEMBER_NAME": name, "MEMBER_ADDRESS": address, "DATA_DIR": str(data_dir),
        "INITIAL_CLUSTER": ",".join(f"{member}={url}" for member, url in initial_cluster.items())})
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            found[key.strip()] = value.strip().strip('"')
    client, peer = f"http://{address}:{client_port}", f"http://{address}:{peer_port}"
    found.update(ETCD_LISTEN_CLIENT_URLS=client, ETCD_ADVERTISE_CLIENT_URLS=client, ETCD_LISTEN_PEER_URLS=peer,
                 ETCD_INITIAL_ADVERTISE_PEER_URLS=peer)
    return found


SERVER_LINE = re.compile(r"^\s+server .*\n", re.MULTILINE)
BIND_LINE = re.compile(r"^(\s+)bind \S+\n(.*?\n\s+http-check expect status 200\n)", re.MULTILINE | re.DOTALL)


def haproxy_config(*, primary_bind: str, replica_bind: str, nodes: Sequence[tuple[str, str, int, int]]) -> str:
    """deploy/cluster/haproxy-postgres.cfg bound to `primary_bind` and `replica_bind` (address:port), with a
    `server` line per node (name, address, PostgreSQL's port, Patroni's REST port) in each section, the template's
    check options kept."""
    text = filled(HAPROXY_TEMPLATE, {"PG1": "", "PG2": "", "PG3": ""})
    assert text.count("check port 8008") == 6, "deploy/cluster/haproxy-postgres.cfg changed shape"
    text = SERVER_LINE.sub("", text)
    binds = iter((primary_bind, replica_bind))

    def bound(match: re.Match[str]) -> str:
        indent, checks = match.groups()
        servers = "".join(f"{indent}server {name} {address}:{port} check port {rest_port}\n"
                          for name, address, port, rest_port in nodes)
        return f"{indent}bind {next(binds)}\n{checks}{servers}"

    return BIND_LINE.sub(bound, text)
