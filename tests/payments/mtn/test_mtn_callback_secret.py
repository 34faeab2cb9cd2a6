"""The per-order secret of MTN callback URLs (pure logic, no I/O)."""

from __future__ import annotations

import base64
import uuid

from payments.mtn.callback_secret import callback_key, order_secret, secret_holds


def test_each_order_has_its_own_secret_of_at_least_128_bits_under_its_own_key() -> None:
    key = callback_key("a-secret-key-of-the-deployment-0123456789")
    first, second = uuid.uuid4(), uuid.uuid4()
    secret = order_secret(key, first)
    assert len(base64.urlsafe_b64decode(secret + "==")) * 8 >= 128
    assert secret == order_secret(key, first) != order_secret(key, second)
    assert secret.replace("-", "").replace("_", "").isalnum()  # fits a URL as it is
    assert order_secret(callback_key("another-deployment-key-9876543210"), first) != secret


def test_only_the_orders_own_secret_holds_whatever_is_sent() -> None:
    key = callback_key("a-secret-key-of-the-deployment-0123456789")
    order = uuid.uuid4()
    assert secret_holds(key, order, order_secret(key, order))
    for sent in (None, "", "x", order_secret(key, uuid.uuid4()), "é" * 22, order_secret(key, order)[:-1]):
        assert not secret_holds(key, order, sent)
