"""The service's error shape, `{"error": {"code", "message"[, "field"]}}`: every JSON error answer is built here,
whether by the assembly's middleware from a domain error or by a package's route itself (a provider's callback)."""

from __future__ import annotations

from aiohttp import web


def error_body(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    error: dict[str, object] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return web.json_response({"error": error}, status=status)
