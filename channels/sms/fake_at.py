"""A local stand-in for Africa's Talking's messaging API, for development and the phone simulator
(`python -m channels.sms.fake_at --port 8091`; `gateway run` starts it when AT has no credentials).

It speaks AT's protocol where the SDK talks to it (`POST /version1/messaging`, form `username`, `to`,
`message`, `from`, `bulkSMSMode`, `linkId`… -> JSON `SMSMessageData.Recipients`), records every message,
and lists them at `GET /messages` (optionally `?to=+237…&after=<seq>`) for `gateway sms` to show."""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from aiohttp import web

DEFAULT_URL = "http://127.0.0.1:8091"


@dataclass(frozen=True)
class Recorded:
    seq: int
    message_id: str
    to: str
    sender: str | None
    message: str
    link_id: str | None
    premium: bool
    at: str


@dataclass
class FakeAtState:
    messages: list[Recorded]
    counter: itertools.count[int]


STATE = web.AppKey("fake_at_state", FakeAtState)


async def send(request: web.Request) -> web.Response:
    form = await request.post()
    to, message, username = str(form.get("to", "")), str(form.get("message", "")), str(form.get("username", ""))
    if not to or not message or not username:
        return web.Response(status=400, text="Missing required fields: username, to, message")
    state = request.app[STATE]
    recipients = []
    for number in to.split(","):
        seq = next(state.counter)
        record = Recorded(seq, f"ATXid_fake{seq}", number, str(form["from"]) if "from" in form else None, message,
                          str(form["linkId"]) if "linkId" in form else None, form.get("bulkSMSMode") == "0",
                          datetime.now(UTC).isoformat())
        state.messages.append(record)
        recipients.append({"statusCode": 101, "number": number, "status": "Success", "cost": "XAF 0.0000",
                           "messageId": record.message_id})
    body = {"SMSMessageData": {"Message": f"Sent to {len(recipients)}/{len(recipients)}", "Recipients": recipients}}
    # Exactly `application/json`, as AT answers: the SDK parses JSON only on that exact header.
    return web.Response(status=201, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


async def listing(request: web.Request) -> web.Response:
    to = request.query.get("to")
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        return web.json_response({"error": "after must be a number"}, status=400)
    found = [asdict(m) for m in request.app[STATE].messages if m.seq > after and (to is None or m.to == to)]
    return web.json_response({"messages": found})


def create_fake_at_app() -> web.Application:
    app = web.Application()
    app[STATE] = FakeAtState([], itertools.count(1))
    app.router.add_post("/version1/messaging", send)
    app.router.add_get("/messages", listing)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m channels.sms.fake_at", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args(argv)
    print(f"Africa's Talking SMS fake: http://{args.host}:{args.port}/version1/messaging (sent: GET /messages)")
    web.run_app(create_fake_at_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
