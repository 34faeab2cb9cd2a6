"""The `gateway` command: run | web | worker | migrate | seed | admin | reconcile | refund | review | …; each command
is a module of `assembly.commands` (a channel's own come with its `ChannelParts`)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from assembly import commands
from assembly.logs import json_wanted, setup_logging
from assembly.settings import ConfigError, Settings
from gateway.core.errors import DomainError
from gateway.kit.collector_held import collector_held


class ParseRefused(Exception):
    """What a parser of one command's module found wrong, said again by the whole parser."""


class OneModuleParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # the whole parser says it, with every command listed
        raise ParseRefused(message)


def build_parser(module: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser; with `module` (of `assembly.commands`), only that module's commands, whose parse
    needs no other command's module, no channel and no provider imported."""
    parser_class = argparse.ArgumentParser if module is None else OneModuleParser
    parser = parser_class(prog="gateway", description="Ballot mobile-money voting gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    if module is not None:
        commands.adder(module)(sub)
        return parser
    from assembly.channel_list import CHANNELS

    for name in commands.BEFORE_CHANNELS:
        commands.adder(name)(sub)
    for parts in CHANNELS:  # each channel's own commands (gateway ussd, gateway sms, gateway telegram, …)
        if parts.commands is not None:
            parts.commands(sub)
    for name in commands.AFTER_CHANNELS:
        commands.adder(name)(sub)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The arguments, parsed by the parser of their command's module alone when it is one of assembly's own; the
    whole parser parses anything else (a channel's command, --help) and says what either finds wrong."""
    args = sys.argv[1:] if argv is None else argv
    if args and (module := commands.module_of(args[0])) is not None:
        try:
            return build_parser(module).parse_args(args)
        except ParseRefused:
            pass
    return build_parser().parse_args(args)


def main(argv: list[str] | None = None) -> int:
    """`gateway` with these arguments (the command line's without), in this process as it is."""
    return execute(parse(argv))


def run() -> int:
    """The `gateway` program (its script, `python -m assembly.cli`): its command's code imported with the collector
    held (gateway.kit.collector_held), then run."""
    with collector_held():
        args = parse(None)
    return execute(args)


def execute(args: argparse.Namespace) -> int:
    """A parsed command, run with the settings of the environment, its errors said as the program says them."""
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
    sys.exit(run())
