"""The `gateway` command: run | web | worker | migrate | seed | admin | reconcile | refund | review | …; each command
is a module of `assembly.commands` (a channel's own come with its `ChannelParts`)."""

from __future__ import annotations

import argparse
import sys

from assembly.channel_list import CHANNELS
from assembly.commands import AFTER_CHANNELS, BEFORE_CHANNELS
from assembly.logs import json_wanted, setup_logging
from assembly.settings import ConfigError, Settings
from gateway.core.errors import DomainError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Ballot mobile-money voting gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in BEFORE_CHANNELS:
        add(sub)
    for parts in CHANNELS:  # each channel's own commands (gateway ussd, gateway sms, gateway telegram, …)
        if parts.commands is not None:
            parts.commands(sub)
    for add in AFTER_CHANNELS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the bad setting
        print(f"gateway: invalid settings: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, json=json_wanted(settings, serves=getattr(args, "serves", False)))
    try:
        return int(args.func(settings, args) or 0)
    except (ConfigError, DomainError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
