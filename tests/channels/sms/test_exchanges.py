"""When an SMS exchange is over, by the service's own rows (what `gateway sms` waits for): the message answered and,
for a vote, its order decided and the receipt of that decision handed to AT."""

from __future__ import annotations

import pytest

from channels.sms.exchanges import Exchange, Sent

PROMPT = Sent("prompt", "ATXid_fake1", "Success")


@pytest.mark.parametrize(("exchange", "over"), [
    (Exchange(False, None, None, ()), False),  # not handled yet
    (Exchange(True, "help", None, (Sent("usage", "ATXid_fake1", "Success"),)), True),
    (Exchange(True, "vote", "pending", (PROMPT,)), False),  # the voter has not approved yet
    (Exchange(True, "vote", "paid", (PROMPT,)), False),  # decided; its receipt not sent yet
    (Exchange(True, "vote", "paid", (PROMPT, Sent("paid", None, "queued"))), False),  # on its way to AT
    (Exchange(True, "vote", "paid", (PROMPT, Sent("paid", "ATXid_fake2", "Success"))), True),
    (Exchange(True, "vote", "failed", (PROMPT, Sent("failed", "ATXid_fake2", "Success"))), True),
    (Exchange(True, "vote", "expired", (PROMPT, Sent("expired", "ATXid_fake2", "Success"))), True),
    (Exchange(True, "vote", "held", (PROMPT,)), True),  # held for a person: no receipt until one decides
])
def test_an_exchange_is_over_when_its_order_is_decided_and_its_receipt_sent(exchange: Exchange, over: bool) -> None:
    assert exchange.over is over
    assert exchange.as_json()["over"] is over
