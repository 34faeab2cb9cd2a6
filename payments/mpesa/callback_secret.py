"""The secret in the URLs we give Daraja: what tells Safaricom's unsigned callbacks from anyone else's.

Daraja signs nothing it sends, but it calls back on the CallBackURL (an STK Push) or ResultURL / QueueTimeOutURL
(a reversal, a B2C payment) we gave it. Each such URL carries a MAC of the order id or of our reference
(HMAC-SHA256, 128 bits kept, URL-safe) under a key of its own derived from SECRET_KEY: only Safaricom (and we) know
it. It rides in the query string, which neither the events kept, nor the log lines (`request.path`), nor the
metrics' route names include.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

PURPOSE = b"mpesa-callback"  # the subkey serves this and nothing else
SECRET_BYTES = 16  # 128 bits of the MAC
QUERY_NAME = "key"


def callback_key(secret_key: str) -> bytes:
    """The purpose-specific subkey of SECRET_KEY."""
    return hmac.new(secret_key.encode(), PURPOSE, hashlib.sha256).digest()


def url_secret(key: bytes, named: uuid.UUID) -> str:
    mac = hmac.new(key, named.bytes, hashlib.sha256).digest()[:SECRET_BYTES]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def secret_holds(key: bytes, named: uuid.UUID, given: str | None) -> bool:
    """Whether `given` is the secret of `named`, compared in constant time (bytes: any text may be sent)."""
    if not given:
        return False
    return hmac.compare_digest(url_secret(key, named).encode(), given.encode("utf-8", "replace"))
