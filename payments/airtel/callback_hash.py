"""The hash of Airtel's "callback with authentication": what tells Airtel's callback from anyone else's.

Airtel calls back on the one URL configured on the application, not on a URL of ours per order, so no per-order
secret can ride in it. With callback authentication switched on (Airtel's portal), each callback carries `hash`: the
HmacSHA256 of the callback under the application's private key, Base64. Airtel's documentation does not spell out
which bytes it hashes; we take the `transaction` object as it was sent, written as compact JSON in its own key order
(what its examples show being hashed). If Airtel's hashes never hold here (callbacks kept as
`rejected:bad_callback_hash`), unset AIRTEL_MONEY_CALLBACK_KEY (and, in production, set
AIRTEL_MONEY_UNHASHED_CALLBACKS=true): every callback then only brings the enquiry forward, slower and never wrong.
Such a callback could be anyone's, so what it asks for is bounded (`gateway.kit.callback_checks`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any


def callback_hash(key: str, transaction: Mapping[str, Any]) -> str:
    """The hash Airtel sends with `transaction` (also what the local sandbox signs with)."""
    text = json.dumps(transaction, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()).decode()


def hash_holds(key: str, transaction: Mapping[str, Any], given: object) -> bool:
    """Whether `given` is the callback's hash, compared in constant time."""
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(callback_hash(key, transaction).encode(), given.encode("utf-8", "replace"))
