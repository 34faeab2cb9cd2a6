"""`gateway <command>` run in the test's own process, through the entry point an operator's shell reaches
(`assembly.cli.main`): what the command prints, on which stream, and its exit status, as a process would give them.

A new Python process spends over a second of CPU importing the service before a command does anything, and the suite
runs some sixty one-shot commands: here they share the test process's imports. What only a process shows (the
`gateway` script itself, signals, what is imported, `run`, `web` and `worker`) is tested with real processes in
`tests/test_cli.py` and the tests of the servers.

The command runs in a thread of its own, with its own event loop, as `asyncio.run` in a process would: an async test
may await it (`asyncio.to_thread`) while its own loop serves what the command calls. For its duration the process's
environment is the one given, standard input, output and error are the command's own, and the logging it sets up is
undone after it.
"""

from __future__ import annotations

import gc
import io
import logging
import os
import sys
import threading
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field

from assembly.cli import main
from assembly.settings import Settings
from tests.waiting import HANG_SECONDS


def command_env(settings: Settings, **more: str) -> dict[str, str]:
    """The environment a command runs in: this process's, on the suite's PostgreSQL and Redis, plain log lines."""
    return {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
            "LOG_JSON": "false", **more}


# One command at a time in a process: the environment and the standard streams are the process's.
_ONE_AT_A_TIME = threading.Lock()


@dataclass(frozen=True)
class Ran:
    """A command's result, as `subprocess.run(..., capture_output=True, text=True)` gives it."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str = field(repr=False)


def gateway(*args: str, env: dict[str, str], timeout: float = HANG_SECONDS) -> Ran:
    """`gateway *args` with `env` as its whole environment; a command still running after `timeout` fails the test."""
    outcome: list[Ran | BaseException] = []

    def run() -> None:
        try:
            outcome.append(_run(args, env))
        except BaseException as crash:  # a process would have printed its traceback: the test shows it
            outcome.append(crash)

    with _ONE_AT_A_TIME:
        runner = threading.Thread(target=run, name="gateway-command", daemon=True)
        runner.start()
        runner.join(timeout)
    assert not runner.is_alive(), f"gateway {' '.join(args)} still running after {timeout}s"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _run(args: tuple[str, ...], env: dict[str, str]) -> Ran:
    out, err = io.StringIO(), io.StringIO()
    before = dict(os.environ)
    logs = _LoggingState.taken()
    given_stdin = sys.stdin
    os.environ.clear()
    os.environ.update(env)
    sys.stdin = io.StringIO()  # nothing typed: a command that asks reads the end at once
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's refusals, a command's own exit
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)
        gc.collect()  # what the command left unclosed is reported now, in its own test, as its exit would hide it
    finally:
        sys.stdin = given_stdin
        os.environ.clear()
        os.environ.update(before)
        logs.restore()
    return Ran(args, code, out.getvalue(), err.getvalue())


@dataclass
class _LoggingState:
    """What a command's logging set-up may change: the root logger's handlers and level, and each logger's level
    (`setup_logging` quiets some) and whether it is disabled."""

    handlers: list[logging.Handler]
    level: int
    loggers: dict[str, tuple[int, bool]]

    @classmethod
    def taken(cls) -> _LoggingState:
        loggers = {name: (found.level, found.disabled) for name, found in logging.Logger.manager.loggerDict.items()
                   if isinstance(found, logging.Logger)}
        return cls(logging.root.handlers[:], logging.root.level, loggers)

    def restore(self) -> None:
        logging.root.handlers[:] = self.handlers
        logging.root.setLevel(self.level)
        for name, found in logging.Logger.manager.loggerDict.items():
            if isinstance(found, logging.Logger):
                level, found.disabled = self.loggers.get(name, (logging.NOTSET, False))
                found.setLevel(level)  # not the attribute: setLevel also clears the loggers' cached answers
