"""Server-Sent Events framing (the text/event-stream format), as bytes ready to write."""

from __future__ import annotations

import re

PING = b": ping\n\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # only these end a line in the format (not U+2028)


def _lines(text: str) -> list[str]:
    return _LINE_BREAK.split(text)


def event_frame(event: str, data: bytes | str, event_id: int | str | None = None) -> bytes:
    """One event; every line of `data` gets its own `data:` field, as the format requires."""
    text = data.decode() if isinstance(data, bytes) else data
    parts = [f"event: {event}\n"]
    if event_id is not None:
        parts.append(f"id: {event_id}\n")
    parts.extend(f"data: {line}\n" for line in _lines(text))
    parts.append("\n")
    return "".join(parts).encode()


def retry_frame(milliseconds: int) -> bytes:
    """How long a disconnected browser waits before it reconnects (to any process behind the balancer)."""
    return f"retry: {int(milliseconds)}\n\n".encode()


def comment_frame(text: str) -> bytes:
    """A comment line: ignored by EventSource, but keeps proxies and mobile networks from idling us out."""
    return "".join(f": {line}\n" for line in _lines(text)).encode() + b"\n"
