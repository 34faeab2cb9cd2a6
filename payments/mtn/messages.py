"""Texts MTN shows the payer: at most 160 characters, never empty, no `&` or `'` (MTN rejects them)."""

from __future__ import annotations

import re

MAX_LENGTH = 160


def payer_message(text: str) -> str:
    cleaned = re.sub(r"[&'\"<>]", " ", text)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return (cleaned or "Vote")[:MAX_LENGTH]
