"""Exports as downloads: CSV written as the rows arrive, XLSX (openpyxl write-only) built in a temporary
file and then streamed; memory stays bounded either way. Auditors and owners only; each one audited.

Cells a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage return) are
prefixed with a quote, in both formats.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import IO, Any

from aiohttp import web

from admin import entry_export
from admin.web import guarded
from gateway.core.audit import Actor
from gateway.core.cells import FORMULA_FIRST, safe_text
from gateway.core.oversight import exports
from gateway.kit.keys import SESSIONS

routes = web.RouteTableDef()
PATH = "/contests/{contest_id:[0-9]{1,9}}/exports/{kind:orders|tallies|audit|payouts|refunds}.{fmt:csv|xlsx}"
CSV_FLUSH_BYTES = 64 * 1024
FILE_CHUNK = 256 * 1024
XLSX_ROWS_AT_ONCE = 500  # rows appended to a workbook per turn in a thread (build_xlsx)
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def cell(value: Any) -> Any:
    """One value as a plain cell: numbers stay numbers, times in UTC ISO form, the rest as safe text."""
    kind = type(value)
    if kind is str:
        return "'" + value if value[:1] in FORMULA_FIRST else value
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        value = value.value
    elif isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    elif isinstance(value, uuid.UUID):
        value = str(value)
    return safe_text(str(value))


def csv_cells(row: Sequence[Any]) -> list[Any]:
    return ["" if (value := cell(v)) is None else value for v in row]


async def write_csv(response: web.StreamResponse, export: exports.Export) -> None:
    """Rows through one csv writer into a buffer, sent (and emptied) every CSV_FLUSH_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.header)
    async for row in export.rows:
        writer.writerow(csv_cells(row))
        if buffer.tell() >= CSV_FLUSH_BYTES:
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())


async def build_xlsx(export: exports.Export, target: IO[bytes]) -> None:
    """The rows into a write-only workbook (rows go to disk as they are appended), saved into `target`. openpyxl
    takes ~0.2 ms a row: appended on the event loop, each 2,000 rows read held the process's voters 0.3-0.6 s. They
    are appended in a thread, XLSX_ROWS_AT_ONCE at a time, which gives the loop its turn every few milliseconds (the
    interpreter's switch interval); the rows read meanwhile wait in a list of that size, so memory stays bounded."""
    book, sheet = await asyncio.to_thread(new_workbook, export.header)
    waiting: list[Sequence[Any]] = []
    async for row in export.rows:
        waiting.append(row)
        if len(waiting) >= XLSX_ROWS_AT_ONCE:
            await asyncio.to_thread(append_rows, sheet, waiting)
            waiting = []
    if waiting:
        await asyncio.to_thread(append_rows, sheet, waiting)
    await asyncio.to_thread(book.save, target)


def new_workbook(header: Sequence[str]) -> tuple[Any, Any]:
    """A write-only workbook and its sheet, the header written (in a thread: openpyxl's import, at the first export,
    takes a few hundred milliseconds)."""
    from openpyxl import Workbook  # here: every web process would pay its import at start for an admin's download

    book = Workbook(write_only=True)
    sheet = book.create_sheet("export")
    sheet.append(list(header))
    return book, sheet


def append_rows(sheet: Any, rows: list[Sequence[Any]]) -> None:
    """Rows onto a write-only sheet (one thread at a time: `build_xlsx` awaits each batch before the next)."""
    for row in rows:
        sheet.append([cell(v) for v in row])


async def write_xlsx(response: web.StreamResponse, export: exports.Export) -> None:
    with tempfile.TemporaryFile() as target:
        await build_xlsx(export, target)
        target.seek(0)
        while chunk := await asyncio.to_thread(target.read, FILE_CHUNK):
            await response.write(chunk)


@routes.get("/admin" + PATH)
@routes.get("/api/v1/admin" + PATH)
@guarded("exports.read")
async def export(request: web.Request, actor: Actor) -> web.StreamResponse:
    """Orders, tallies or the audit log of a contest, created `from` (inclusive) `to` (exclusive)."""
    info = request.match_info
    kind, fmt, contest_id = info["kind"], info["fmt"], int(info["contest_id"])
    period = exports.parse_period(request.query.get("from"), request.query.get("to"))
    started = await exports.start_export(request.app[SESSIONS], actor, contest_id, kind, fmt, period)
    return await send(request, started, f"contest-{contest_id}-{kind}", fmt)


async def send(request: web.Request, started: exports.Export, name: str, fmt: str) -> web.StreamResponse:
    """An export streamed as a download called `name`.`fmt`."""
    response = web.StreamResponse(headers={
        "Content-Type": CONTENT_TYPES[fmt], "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
    await response.prepare(request)
    await (write_csv if fmt == "csv" else write_xlsx)(response, started)
    await response.write_eof()
    return response


ENTRIES_PATH = "/contests/{contest_id:[0-9]{1,9}}/exports/entries.{fmt:csv|xlsx}"


@routes.get("/admin" + ENTRIES_PATH)
@routes.get("/api/v1/admin" + ENTRIES_PATH)
@guarded("exports.read")
async def export_entries(request: web.Request, actor: Actor) -> web.StreamResponse:
    """A contest's entries sent `from` (inclusive) `to` (exclusive), each with its decision (admin.entry_export)."""
    fmt, contest_id = request.match_info["fmt"], int(request.match_info["contest_id"])
    period = exports.parse_period(request.query.get("from"), request.query.get("to"))
    started = await entry_export.start(request.app[SESSIONS], actor, contest_id, fmt, period)
    return await send(request, started, f"contest-{contest_id}-entries", fmt)
