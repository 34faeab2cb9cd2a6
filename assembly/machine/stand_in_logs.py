"""The local stand-ins' logs (the MTN/Orange/M-Pesa sandbox, Africa's Talking's fake, the Bot API's): `gateway run`
starts each through here, `python -m assembly.machine.stand_in_logs <module> --host H --port P …`, so that they log at
STAND_IN_LOG_LEVEL (WARNING unless asked). At INFO a sandbox writes a line per request, ten a second while the
status checks poll: the console is then theirs, and the service's own lines scroll away among them."""

from __future__ import annotations

import logging
import os
import runpy
import sys

ENV = "STAND_IN_LOG_LEVEL"
DEFAULT_LEVEL = "WARNING"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def stand_in_level(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """The level asked in STAND_IN_LOG_LEVEL (a name, DEBUG to CRITICAL, or a number); WARNING when unset or not
    a level."""
    asked = (environ.get(ENV) or DEFAULT_LEVEL).strip().upper()
    if asked.isdecimal():
        return int(asked)
    level = logging.getLevelNamesMapping().get(asked)
    return level if level is not None else logging.WARNING


def configure(level: int) -> None:
    """The root logger at `level`, with its handler set first: a stand-in's own `logging.basicConfig(level=INFO)`
    then finds a handler there and changes nothing."""
    logging.basicConfig(level=level, format=FORMAT, force=True)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit("usage: python -m assembly.machine.stand_in_logs <module> [its arguments]")
    configure(stand_in_level())
    module, sys.argv = args[0], [args[0], *args[1:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
