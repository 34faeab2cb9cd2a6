"""The secret in each order's MTN callback URL: what tells MTN's callback from anyone else's.

MTN does not sign its callbacks, but it calls back on the `X-Callback-Url` we gave it for the order.
That URL carries a MAC of the order id (HMAC-SHA256, 128 bits kept, URL-safe) under a key of its own
derived from SECRET_KEY: only MTN (and we) know it, so a callback on the right URL is MTN's. The
secret is never logged, stored or counted in metrics: it rides in the query string, which neither
the events kept nor the log lines (`request.path`) nor the metrics' route names include.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

PURPOSE = b"mtn-callback"  # the subkey serves this and nothing else
SECRET_BYTES = 16  # 128 bits of the MAC
QUERY_NAME = "key"  # ?key=… on the callback URL
KEYED = "callback"  # provider_data: the order's callback URL carries a secret (orders before it have none)


def callback_key(secret_key: str) -> bytes:
    """The purpose-specific subkey of SECRET_KEY."""
    return hmac.new(secret_key.encode(), PURPOSE, hashlib.sha256).digest()


def order_secret(key: bytes, order_id: uuid.UUID) -> str:
    mac = hmac.new(key, order_id.bytes, hashlib.sha256).digest()[:SECRET_BYTES]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def secret_holds(key: bytes, order_id: uuid.UUID, given: str | None) -> bool:
    """Whether `given` is the order's secret, compared in constant time (bytes: any text may be sent)."""
    if not given:
        return False
    return hmac.compare_digest(order_secret(key, order_id).encode(), given.encode("utf-8", "replace"))
