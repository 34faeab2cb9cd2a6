"""Logs on stderr, each line carrying the request id of the request that wrote it: JSON for machines
(production, a pipe, a file), one short line each for a developer at a terminal."""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from assembly.settings import Settings

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Loggers whose INFO lines say nothing an operator acts on: one line per request (aiohttp), the embedded
# PostgreSQL's every command with its output (pgserver), alembic announcing its plugins; and httpx's line per
# request made, whose URL holds the Telegram bot's token (`/bot<token>/sendMessage`): a secret in every log.
QUIET_LOGGERS = ("aiohttp.access", "pgserver", "alembic.runtime.plugins", "httpx")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class ConciseFormatter(logging.Formatter):
    """`13:02:04 INFO  core.money_in.starting: message  [request 5f…]`: our loggers without their `gateway.`, and the
    request id only on lines written while serving a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(short_logger)s: %(message)s%(request_note)s",
                         datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        record.short_logger = record.name.removeprefix("gateway.")
        request = getattr(record, "request_id", None)
        record.request_note = f"  [request {request}]" if request else ""
        return super().format(record)


def json_wanted(settings: Settings, stream: TextIO | None = None, *, serves: bool = True) -> bool:
    """LOG_JSON when set; otherwise JSON everywhere but on a terminal, where a person reads: a command that runs and
    reports (`gateway reconcile money`, `review`, `migrate`) writes short lines there whatever the environment, its
    logs beside its report; a process that serves (`serves`: web, worker, …) keeps JSON in production, for the log
    collector that takes its terminal over."""
    if settings.log_json is not None:
        return settings.log_json
    stream = stream or sys.stderr
    return not stream.isatty() or (serves and settings.is_production)


def stderr_handler(json: bool) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if json:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        ))
    else:
        handler.setFormatter(ConciseFormatter())
    return handler


def setup_logging(level: str = "INFO", json: bool = True) -> None:
    root = logging.getLogger()
    root.handlers[:] = [stderr_handler(json)]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
