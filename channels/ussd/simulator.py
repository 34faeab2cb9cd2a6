"""`gateway ussd`: a feature phone in the terminal. It dials the running service the way Africa's Talking
does (form posts carrying the whole `text` path), shows each screen, and sends the next input —
typed by a person, or played from a `--script` path such as "1*07*5*1*1"."""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

import httpx

from channels.ussd.settings import UssdSettings
from gateway.kit.outbound_tls import verified_tls

ROUTE = "/ussd/africastalking"
RULE = "-" * 32


class DialError(RuntimeError):
    """The service did not answer like a USSD application."""


@dataclass(frozen=True)
class Screen:
    kind: str  # CON | END
    text: str

    @property
    def ends(self) -> bool:
        return self.kind == "END"


def default_url() -> str:
    settings = UssdSettings()
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::", "") else settings.gateway_host
    return f"http://{host}:{settings.gateway_port}"


def parse_screen(status: int, body: str) -> Screen:
    """A reply as a phone reads it: 200 and a `CON `/`END ` body, or the session is over."""
    if status != 200:
        raise DialError(f"the service answered HTTP {status}: {body[:200]}")
    kind, _, text = body.partition(" ")
    if kind not in ("CON", "END"):
        raise DialError(f"the reply does not start with CON or END: {body[:200]!r}")
    return Screen(kind, text)


class Phone:
    """One dialled session: a fresh random sessionId, and every input so far."""

    def __init__(self, http: httpx.Client, url: str, service_code: str, msisdn: str,
                 token: str | None = None) -> None:
        self._http, self._url = http, url.rstrip("/") + ROUTE
        self._query = {"token": token} if token else {}  # as AT's dashboard holds the callback URL
        self.service_code, self.msisdn = service_code, msisdn
        self.session_id = f"SIM-{uuid.uuid4().hex}"
        self.inputs: list[str] = []

    def send(self, answer: str | None = None) -> Screen:
        """Dial (no answer) or send the next answer; returns the screen shown."""
        if answer is not None:
            self.inputs.append(answer)
        form = {"sessionId": self.session_id, "serviceCode": self.service_code, "phoneNumber": self.msisdn,
                "networkCode": "simulator", "text": "*".join(self.inputs)}
        response = self._http.post(self._url, data=form, params=self._query)
        return parse_screen(response.status_code, response.text)


def show(screen: Screen, out: TextIO) -> None:
    print(RULE, file=out)
    print(screen.text, file=out)
    print(f"{RULE} {screen.kind}", file=out)


def play(phone: Phone, answers: Iterator[str | None], out: TextIO, *, scripted: bool = True) -> int:
    """Dial, then send answers until the service ends the session or the answers run out."""
    print(f"dialling {phone.service_code} from {phone.msisdn} (session {phone.session_id})", file=out)
    screen = phone.send()
    show(screen, out)
    while not screen.ends:
        answer = next(answers, None)
        if answer is None:
            print("(hung up)", file=out)
            return 0
        if scripted:  # a person's typing is already on the terminal
            print(f"> {answer}", file=out)
        screen = phone.send(answer)
        show(screen, out)
    leftover = len(list(answers)) if scripted else 0
    if leftover:
        print(f"the session ended before the script's last {leftover} input(s)", file=out)
        return 1
    return 0


def script_answers(path: str) -> Iterator[str | None]:
    yield from ([] if path == "" else path.split("*"))


def typed(prompt: Callable[[str], str]) -> Iterator[str | None]:
    while True:
        try:
            yield prompt("> ").strip()
        except EOFError:
            return


def main(args: argparse.Namespace, out: TextIO = sys.stdout, prompt: Callable[[str], str] = input) -> int:
    """Run the simulator; 0 when the session went as the service decided, 1 on a broken exchange."""
    url = args.url or default_url()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would bury the screens
    try:
        with httpx.Client(timeout=httpx.Timeout(20.0, connect=5.0), verify=verified_tls()) as http:
            token = UssdSettings().ussd_callback_token
            phone = Phone(http, url, args.service_code, args.msisdn, token.get_secret_value() if token else None)
            if args.script is not None:
                return play(phone, script_answers(args.script), out)
            return play(phone, typed(prompt), out, scripted=False)
    except (DialError, httpx.HTTPError) as exc:
        print(f"ussd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("(hung up)", file=out)
        return 130
