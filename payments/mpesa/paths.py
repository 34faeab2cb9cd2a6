"""Where Daraja calls us back: every URL we hand Safaricom, built here and nowhere else.

Daraja's Register URL API refuses a ConfirmationURL or ValidationURL holding the words "M-Pesa", "MPesa" or
"Safaricom" (in any case), and its other APIs' CallBackURL, ResultURL and QueueTimeOutURL are filtered alike. So our
paths name no brand: `/payments/ke-mobile/…` says what it is (Kenya's mobile money) without any word a filter
present or future could hold against it ("daraja" passes today, but it is Safaricom's own product name, the very
kind of word such filters grow to catch). The old `/payments/mpesa/…` paths still answer, for the prompts and
transfers in flight when the paths changed; nothing we send names them any more.

Each URL carries the secret of what it is about (`payments.mpesa.callback_secret`): an order, a reference of ours,
or a paybill for the C2B URLs (a UUID derived from its number), so an unsigned body is Safaricom's only on its URL.
"""

from __future__ import annotations

import re
import uuid

from payments.mpesa.callback_secret import QUERY_NAME, url_secret

PREFIX = "/payments/ke-mobile"
OLD_PREFIX = "/payments/mpesa"  # answered still, never handed out
# What Daraja filters out of registered URLs (case-insensitive; with or without the hyphen).
FORBIDDEN = re.compile(r"m-?pesa|safaricom", re.IGNORECASE)
PAYBILL_NAMESPACE = uuid.UUID("6f1d3c2a-5b7e-4a8c-9d0e-1f2a3b4c5d6e")  # ours: paybills' UUIDs, for their secrets


def paybill_id(paybill: str) -> uuid.UUID:
    """The UUID a paybill's C2B URLs are secret-keyed by (the secret is a MAC of a UUID)."""
    return uuid.uuid5(PAYBILL_NAMESPACE, f"c2b:{paybill}")


def _secured(public: str, path: str, key: bytes, named: uuid.UUID) -> str:
    return f"{public.rstrip('/')}{PREFIX}{path}?{QUERY_NAME}={url_secret(key, named)}"


def stk_callback_url(public: str, key: bytes, order_id: uuid.UUID) -> str:
    return _secured(public, f"/callback/{order_id}", key, order_id)


def result_url(public: str, key: bytes, reference: uuid.UUID) -> str:
    return _secured(public, f"/result/{reference}", key, reference)


def time_out_url(public: str, key: bytes, reference: uuid.UUID) -> str:
    return _secured(public, f"/timeout/{reference}", key, reference)


def status_url(public: str, key: bytes, reference: uuid.UUID) -> str:
    return _secured(public, f"/status/{reference}", key, reference)


def validation_url(public: str, key: bytes, paybill: str) -> str:
    return _secured(public, f"/c2b/validation/{paybill}", key, paybill_id(paybill))


def confirmation_url(public: str, key: bytes, paybill: str) -> str:
    return _secured(public, f"/c2b/confirmation/{paybill}", key, paybill_id(paybill))


def forbidden_words(url: str) -> list[str]:
    """The words of `url` Daraja would refuse it for (none: Daraja takes it)."""
    return FORBIDDEN.findall(url)
