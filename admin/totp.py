"""TOTP second factor (RFC 6238, pyotp): a secret per account, shown once as a URI and a QR code."""

from __future__ import annotations

import io

import pyotp
import segno

ISSUER = "Ballot"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def code_matches(secret: str, code: str) -> bool:
    """The code of now, or of the 30 s step either side (a phone's clock drifts)."""
    code = code.strip().replace(" ", "")
    return len(code) == 6 and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)


def terminal_qr(uri: str) -> str:
    """The QR code as text for a terminal (what `gateway admin create` prints)."""
    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def svg_qr(uri: str) -> str:
    """The QR code as inline SVG for the enrolment page (no image request, nothing leaves the page)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff"))
