"""`gateway sms --from +23767… "VOTE 07 5"`: a phone texting the running service. It posts the message as
Africa's Talking does (the inbound form, with a fresh id), then prints the SMS the service sends back —
the reply, then the receipt — as they reach the local fake of AT's messaging API (channels/sms/fake_at).
The exchange is over when the service says so (its order decided, every message it sent for it listed by AT's
fake), read from the service by the message's id: in any language, whatever its texts say."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import httpx

from channels.sms.fake_at import DEFAULT_URL
from channels.sms.settings import SmsSettings
from gateway.kit.outbound_tls import verified_tls

ROUTE = "/sms/africastalking/inbound"
POLL_SECONDS = 0.5


class TextError(RuntimeError):
    """The service or the fake did not answer as expected."""


def default_url(settings: SmsSettings) -> str:
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::", "") else settings.gateway_host
    return f"http://{host}:{settings.gateway_port}"


def inbound_form(sender: str, short_code: str, text: str) -> dict[str, str]:
    return {"from": sender, "to": short_code, "text": text, "id": f"SIM-{uuid.uuid4().hex}",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"), "linkId": f"SIMLink{uuid.uuid4().hex[:12]}",
            "networkCode": "simulator"}


def sent_to(http: httpx.Client, at_url: str, msisdn: str, after: int) -> list[dict[str, Any]]:
    response = http.get(f"{at_url.rstrip('/')}/messages", params={"to": msisdn, "after": after})
    if response.status_code != 200:
        raise TextError(f"the AT fake answered HTTP {response.status_code}")
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def last_seq(http: httpx.Client, at_url: str, msisdn: str) -> int:
    return max((int(m["seq"]) for m in sent_to(http, at_url, msisdn, 0)), default=0)


def exchange_of(http: httpx.Client, url: str, at_id: str, token: dict[str, str]) -> dict[str, Any]:
    """What the service says became of the message: handled, its order's state, the SMS it sent (AT's ids), over."""
    response = http.get(f"{url}{ROUTE}/{at_id}", params=token)
    if response.status_code != 200:
        raise TextError(f"the service answered HTTP {response.status_code} about the message: {response.text[:200]}")
    state: dict[str, Any] = response.json()
    return state


def ended(state: dict[str, Any], shown: set[str]) -> bool:
    """The service says nothing more is coming, and every message it sent for the exchange was printed."""
    return bool(state["over"]) and all(sent["message_id"] in shown for sent in state["sent"] if sent["message_id"])


def text(args: argparse.Namespace, out: TextIO = sys.stdout, clock: Callable[[], float] = time.monotonic) -> int:
    settings = SmsSettings()
    url = (args.url or default_url(settings)).rstrip("/")
    at_url = args.at_url or settings.at_fake_url or DEFAULT_URL
    secret = settings.sms_callback_token
    token = {"token": secret.get_secret_value()} if secret else {}
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with httpx.Client(timeout=httpx.Timeout(20.0, connect=5.0), verify=verified_tls()) as http:
        after = last_seq(http, at_url, args.sender)
        form = inbound_form(args.sender, args.to, args.text)
        print(f"{args.sender} -> {args.to}: {args.text}", file=out)
        response = http.post(url + ROUTE, data=form, params=token)
        if response.status_code != 200:
            raise TextError(f"the service answered HTTP {response.status_code}: {response.text[:200]}")
        shown: set[str] = set()
        state: dict[str, Any] = {"over": False, "sent": []}
        deadline = clock() + args.wait
        while not ended(state, shown) and clock() < deadline:
            state = exchange_of(http, url, form["id"], token)  # before AT's list: each id it names is listed there
            for message in sent_to(http, at_url, args.sender, after):
                after = max(after, int(message["seq"]))
                shown.add(str(message["message_id"]))
                print(f"{message['sender'] or args.to} -> {args.sender}: {message['message']}", file=out, flush=True)
            if not ended(state, shown):
                time.sleep(POLL_SECONDS)
    for sent in state["sent"]:
        if sent["status"] == "unsent":  # AT refused it (or could not be reached), whatever the retries did
            print(f"(the service's {sent['kind']} message was not sent: {sent['status']})", file=out)
    if not ended(state, shown):
        print(f"(no {'reply' if not shown else 'receipt'} within {args.wait:.0f} s)", file=out)
        return 1
    return 0


def main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        return text(args, out)
    except (TextError, httpx.HTTPError) as exc:
        print(f"sms: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
