"""deploy/haproxy.cfg as this machine runs it: every rule of the production file, only its addresses local.

The compose file names its servers through Docker's DNS (`server-template <name> <n> <service>:<port>`); here
each template becomes one `server` line per local address given for that service and port, so what the tests
and benchmarks run in front of the web processes and the fan-out servers is the balancer that ships."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"
VIEWERS_BIND = "bind :8080"  # the frontend of voters and viewers
PUBLISHERS_BIND = 'bind "${PUBLISHERS_BIND-127.0.0.1:8096}"'  # the frontend of the service's board frames
TEMPLATE = re.compile(r"^([ \t]*)server-template (\S+) \d+ (\S+)(.*)$", re.MULTILINE)


def local_config(listen: str, publish_listen: str, servers: Mapping[str, Sequence[str]], *,
                 maxconn: int = 1000, server_options: Mapping[str, Sequence[str]] | None = None) -> str:
    """The production file with `listen` and `publish_listen` bound, each `server-template` of `<service>:<port>`
    turned into a `server` line per address of `servers[<service>:<port>]` (none: the backend has none), with
    `server_options[<service>:<port>][i]` appended to the i-th (a `source` address, say), and `maxconn` the
    whole balancer's (a test machine's descriptors, not a show's)."""
    text = CONFIG.read_text()
    assert VIEWERS_BIND in text and PUBLISHERS_BIND in text, "deploy/haproxy.cfg changed shape"
    text = text.replace(VIEWERS_BIND, f"bind {listen}").replace(PUBLISHERS_BIND, f"bind {publish_listen}")
    options = server_options or {}
    named = set()

    def servers_for(match: re.Match[str]) -> str:
        indent, name, target, rest = match.groups()
        named.add(target)
        extras = options.get(target, ())
        return "\n".join(f"{indent}server {name}{i} {address}{rest}" + (f" {extras[i]}" if i < len(extras) else "")
                         for i, address in enumerate(servers.get(target, ())))

    text = TEMPLATE.sub(servers_for, text)
    assert set(servers) <= named, f"deploy/haproxy.cfg has no server-template for {set(servers) - named}"
    text = text.replace(" resolvers docker init-addr none", "")
    return re.sub(r"maxconn \d+", f"maxconn {maxconn}", text)
