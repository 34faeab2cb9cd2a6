"""TOTP second factor (RFC 6238, pyotp): a secret per account, shown once as a URI and a QR code."""

from __future__ import annotations

import io
import time

import pyotp
import segno

ISSUER = "Ballot"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def accepted_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The 30 s time step this code belongs to (now's, or the one either side: a phone's clock drifts),
    if it is later than the account's last accepted step; else None. A code works once: replayed, or
    older than one already used, it is refused (RFC 6238 section 5.2)."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    otp = pyotp.TOTP(secret)
    at = time.time() if now is None else now
    if not otp.verify(code, for_time=at, valid_window=1):
        return None
    for offset in (1, 0, -1):  # the newest step it matches: an older match is never later than the last one
        when = at + offset * otp.interval
        if otp.verify(code, for_time=when):
            step = otp.timecode(when)
            return step if last_step is None or step > last_step else None
    return None


def terminal_qr(uri: str) -> str:
    """The QR code as text for a terminal (what `gateway admin create` prints)."""
    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def svg_qr(uri: str) -> str:
    """The QR code as inline SVG for the enrolment page (no image request, nothing leaves the page)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff"))
