"""Africa's Talking's messaging API at the wire, as `responses` sees it (the SDK uses requests)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import responses

AT_URL = "https://api.sandbox.africastalking.com/version1/messaging"


class FakeAt:
    """AT's messaging endpoint: every message sent, answered as AT does (one recipient, statusCode 101)."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.sent: list[dict[str, str]] = []
        self.failures = 0  # answer this many calls with a 500 first
        self.mock = mock
        mock.add_callback(responses.POST, AT_URL, callback=self.answer)

    def answer(self, request: object) -> tuple[int, dict[str, str], str]:
        if self.failures:
            self.failures -= 1
            return 500, {}, "Internal Server Error"
        form = {k: v[0] for k, v in parse_qs(str(getattr(request, "body", ""))).items()}
        self.sent.append(form)
        body = {"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [{
            "statusCode": 101, "number": form["to"], "status": "Success", "cost": "XAF 25",
            "messageId": f"ATXid_out{len(self.sent)}"}]}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def texts(self) -> list[str]:
        return [m["message"] for m in self.sent]
