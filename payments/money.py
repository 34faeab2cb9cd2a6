"""Kept only for payments/orange/webpay.py, whose import moves to gateway.core.money (the one
currency table) once the work in progress on that file is merged; then this module goes."""

from __future__ import annotations

from gateway.core.money import from_major, to_major_string

__all__ = ["from_major", "to_major_string"]
