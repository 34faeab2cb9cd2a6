"""`gateway telegram --simulate`: a Telegram user in the terminal. It drives the local fake Bot API
(started by `gateway run` when no token is set), which posts each update to the bot's webhook as
Telegram would, and prints what the chat shows after each step: /start, the demo contest, candidate
07, 5 votes, pay in Stars, then /top. No token and no network needed."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any, TextIO

import httpx

from channels.telegram.settings import TelegramSettings
from gateway.kit.outbound_tls import verified_tls

RULE = "-" * 40
BOARD_WAIT_TRIES = 20


class SimulationError(RuntimeError):
    """The fake Bot API or the bot did not answer as a chat would."""


class ChatUser:
    def __init__(self, http: httpx.Client, fake_url: str, user: int, language: str) -> None:
        self.http, self.base, self.user, self.language = http, fake_url.rstrip("/"), user, language

    def act(self, action: str, **body: Any) -> list[dict[str, Any]]:
        try:
            response = self.http.post(f"{self.base}/_user/{self.user}/{action}",
                                      json={**body, "language_code": self.language})
        except httpx.HTTPError as exc:
            raise SimulationError(f"the fake Bot API at {self.base} is not reachable ({exc}); "
                                  "is `gateway run` running without TELEGRAM_BOT_TOKEN?") from exc
        answer = response.json()
        if response.status_code != 200:
            raise SimulationError(f"{action}: {answer.get('error', response.text)}")
        if action != "pay" and answer.get("result") != 200:
            raise SimulationError(f"the bot's webhook answered {answer.get('result')} (is the web process up?)")
        if action == "pay" and answer.get("result") is not True:
            raise SimulationError("the bot refused the payment at its pre-checkout")
        chat: list[dict[str, Any]] = answer["chat"]
        return chat

    def press_starting(self, chat: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
        """Press the first button of the newest message whose label starts with `prefix`."""
        for message in reversed(chat):
            for label, _ in message["buttons"]:
                if label.startswith(prefix):
                    return self.act("press", label=label)
        raise SimulationError(f"no button starting with {prefix!r}; the chat shows: {chat[-1]['text']!r}")


def show(out: TextIO, step: str, chat: list[dict[str, Any]]) -> None:
    message = chat[-1]
    print(f"> {step}\n{RULE}\n{message['text']}", file=out)
    for label, _ in message["buttons"]:
        print(f"  [{label}]", file=out)
    if message.get("invoice"):
        invoice = message["invoice"]
        print(f"  invoice: {invoice['total_amount']} {invoice['currency']} ({invoice['title']})", file=out)
    print(RULE, file=out)


def simulate(http: httpx.Client, fake_url: str, user: int, language: str, candidate: str, votes: int,
             out: TextIO) -> None:
    chat_user = ChatUser(http, fake_url, user, language)
    chat = chat_user.act("say", text="/top")
    show(out, "/top (before)", chat)
    before = chat[-1]["text"]
    chat = chat_user.act("say", text="/start")
    show(out, "/start", chat)
    contest_button = chat[-1]["buttons"][0][0] if chat[-1]["buttons"] else None
    if contest_button is None:
        raise SimulationError("no open contest is sold in Stars")
    chat = chat_user.act("press", label=contest_button)
    show(out, f"press {contest_button}", chat)
    chat = chat_user.press_starting(chat, f"{candidate} ")
    show(out, f"press {candidate}", chat)
    chat = chat_user.act("press", label=str(votes))
    show(out, f"press {votes}", chat)
    chat = chat_user.press_starting(chat, chat[-1]["buttons"][0][0])
    show(out, "press pay in Stars", chat)
    chat = chat_user.act("pay")
    show(out, "pay the invoice", chat)
    for _ in range(BOARD_WAIT_TRIES):  # the board's cache is refreshed right after the vote, not in its reply
        chat = chat_user.act("say", text="/top")
        if chat[-1]["text"] != before:
            break
        time.sleep(0.5)
    show(out, "/top (after)", chat)


def main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    fake_url = args.fake_url or TelegramSettings().telegram_fake_api_url
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per step is the chat, not its requests
    with httpx.Client(timeout=30, verify=verified_tls()) as http:
        try:
            simulate(http, fake_url, args.user, args.language, args.candidate, args.votes, out)
        except SimulationError as exc:
            print(f"telegram simulation failed: {exc}", file=sys.stderr)
            return 1
    return 0
