"""The fake Bot API: `POST /bot<token>/<method>` answered like Telegram (`{"ok": true, "result": …}`),
every call recorded, and a user played towards the bot's webhook (`/_user/<id>/…`).

Where Telegram's behaviour matters to the bot it is copied: callback data and invoice payloads come
back as sent, a pre-checkout query must be answered before the payment message is sent, a refund of a
charge refunded before fails with CHARGE_ALREADY_REFUNDED, and `getStarTransactions` lists only the charges
really made (and their refunds, under the same id), newest first.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from channels.telegram.settings import SECRET_HEADER

log = logging.getLogger(__name__)
BOT_USER = {"id": 42, "is_bot": True, "first_name": "Ballot", "username": "ballot_dev_bot"}
TRUE_METHODS = frozenset({"answerCallbackQuery", "setWebhook", "deleteWebhook", "setMyCommands",
                          "deleteMessage", "sendChatAction"})
MESSAGE_METHODS = frozenset({"sendMessage", "sendPhoto", "sendInvoice"})


@dataclass(frozen=True)
class BotCall:
    method: str
    params: dict[str, Any]


@dataclass
class ChatMessage:
    """A message the bot sent, as the user sees it now (edits applied)."""

    message_id: int
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, callback data or url)
    invoice: dict[str, Any] | None = None

    def shown(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "text": self.text, "buttons": self.buttons, "invoice": self.invoice}


def decoded(params: dict[str, Any]) -> dict[str, Any]:
    """aiogram posts a form whose nested values are JSON text: read them back as Telegram does."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and value[:1] in "[{":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[key] = value
    return out


def buttons_of(markup: dict[str, Any] | None) -> list[tuple[str, str]]:
    rows = (markup or {}).get("inline_keyboard") or (markup or {}).get("keyboard") or []
    return [(button.get("text", ""), button.get("callback_data") or button.get("url") or "")
            for row in rows for button in row]


class FakeBotApi:
    def __init__(self, webhook_url: str | None = None, secret: str | None = None) -> None:
        self.webhook_url = webhook_url
        self.secret = secret
        self.calls: list[BotCall] = []
        self.chats: dict[int, list[ChatMessage]] = {}
        self.alerts: dict[int, list[str]] = {}  # callback answers with text, per user
        self.pre_checkout_answers: dict[str, dict[str, Any]] = {}
        self.refunded: set[str] = set()
        self.pending: list[dict[str, Any]] = []  # updates waiting for getUpdates (no webhook set)
        self.query_users: dict[str, int] = {}  # callback query id → the user who pressed
        self.charges: dict[str, int] = {}  # charge id → user
        self.transactions: list[dict[str, Any]] = []  # the bot's Star transactions, oldest first (listed reversed)
        self.lists_newest_first = True  # as Telegram does; False plays a Bot API that changed its order
        self.update_ids = itertools.count(int(time.time()) % 100000 * 1000)
        self.message_ids = itertools.count(1)
        self.http: aiohttp.ClientSession | None = None

    # --- the Bot API -------------------------------------------------------------------------------
    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        params = decoded({**request.query, **params})
        self.calls.append(BotCall(method, params))
        try:
            result = self.answer(method, params)
        except LookupError as exc:
            return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"},
                                     status=400)
        return web.json_response({"ok": True, "result": result})

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "setWebhook":
            self.webhook_url, self.secret = params.get("url"), params.get("secret_token")
        if method == "deleteWebhook":
            self.webhook_url = None
        if method == "answerCallbackQuery" and params.get("text"):
            user = self.query_users.get(str(params["callback_query_id"]))
            if user is not None:
                self.alerts.setdefault(user, []).append(str(params["text"]))
        if method in TRUE_METHODS:
            return True
        if method in MESSAGE_METHODS:
            return self.sent(int(params["chat_id"]), params, method)
        if method in ("editMessageText", "editMessageReplyMarkup"):
            return self.edited(int(params["chat_id"]), int(params["message_id"]), params)
        if method == "answerPreCheckoutQuery":
            self.pre_checkout_answers[str(params["pre_checkout_query_id"])] = params
            return True
        if method == "refundStarPayment":
            charge = str(params["telegram_payment_charge_id"])
            if charge in self.refunded:
                raise LookupError("CHARGE_ALREADY_REFUNDED")
            if self.charges.get(charge) != int(params["user_id"]):
                raise LookupError("CHARGE_NOT_FOUND")
            self.refunded.add(charge)
            paid = next(t for t in self.transactions if t["id"] == charge and "source" in t)
            self.transactions.append({"id": charge, "amount": paid["amount"], "date": int(time.time()),
                                      "receiver": {"type": "user", "user": paid["source"]["user"]}})
            return True
        if method == "getUpdates":  # polling: the updates played while no webhook was set
            offset = int(params.get("offset") or 0)
            self.pending = [update for update in self.pending if update["update_id"] >= offset]
            return self.pending
        if method == "getStarTransactions":
            offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 100)
            listed = self.transactions[::-1] if self.lists_newest_first else self.transactions
            return {"transactions": listed[offset:offset + limit]}
        raise LookupError(f"method {method} is not faked")

    def sent(self, chat_id: int, params: dict[str, Any], method: str) -> dict[str, Any]:
        text = str(params.get("text") or params.get("caption") or params.get("title") or "")
        invoice = None
        if method == "sendInvoice":
            prices = params.get("prices") or []
            invoice = {"title": params.get("title"), "description": params.get("description"),
                       "currency": params.get("currency"), "payload": params.get("payload"),
                       "total_amount": sum(int(price["amount"]) for price in prices),
                       "provider_token": params.get("provider_token")}
        message = ChatMessage(next(self.message_ids), text, buttons_of(params.get("reply_markup")), invoice)
        self.chats.setdefault(chat_id, []).append(message)
        return self.message_dict(chat_id, message)

    def edited(self, chat_id: int, message_id: int, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.chats.get(chat_id, []):
            if message.message_id == message_id:
                unchanged = params.get("text", message.text) == message.text
                if unchanged and buttons_of(params.get("reply_markup")) == message.buttons:
                    raise LookupError("message is not modified: specified new message content and reply markup "
                                      "are exactly the same as a current content and reply markup of the message")
                if "text" in params:
                    message.text = str(params["text"])
                message.buttons = buttons_of(params.get("reply_markup"))
                return self.message_dict(chat_id, message)
        raise LookupError("message to edit not found")

    def message_dict(self, chat_id: int, message: ChatMessage) -> dict[str, Any]:
        shown: dict[str, Any] = {"message_id": message.message_id, "date": int(time.time()),
                                 "chat": {"id": chat_id, "type": "private"}, "from": BOT_USER}
        if message.invoice is not None:
            shown["invoice"] = {key: message.invoice[key] for key in ("title", "description", "currency",
                                                                       "total_amount")} | {"start_parameter": ""}
        else:
            shown["text"] = message.text
        if message.buttons:
            shown["reply_markup"] = {"inline_keyboard": [[{"text": label, "callback_data": data}]
                                                         for label, data in message.buttons]}
        return shown

    # --- playing a user ----------------------------------------------------------------------------
    def calls_of(self, method: str) -> list[dict[str, Any]]:
        return [call.params for call in self.calls if call.method == method]

    def last_message(self, user: int) -> ChatMessage:
        return self.chats[user][-1]

    def texts(self, user: int) -> list[str]:
        return [message.text for message in self.chats.get(user, [])]

    async def deliver(self, update: dict[str, Any]) -> int:
        """Post one update to the bot's webhook as Telegram does; the HTTP status it got. Without a
        webhook the update waits for the bot's getUpdates (polling), and 200 is returned."""
        if not self.webhook_url:
            self.pending.append(update)
            return 200
        if self.http is None:
            self.http = aiohttp.ClientSession()
        headers = {SECRET_HEADER: self.secret} if self.secret else {}
        async with self.http.post(self.webhook_url, json=update, headers=headers) as response:
            await response.read()
            return response.status

    def user(self, user: int, language_code: str) -> dict[str, Any]:
        return {"id": user, "is_bot": False, "first_name": f"Voter {user}", "language_code": language_code}

    def update(self, **body: Any) -> dict[str, Any]:
        return {"update_id": next(self.update_ids), **body}

    def message_update(self, user: int, language_code: str, **content: Any) -> dict[str, Any]:
        return self.update(message={"message_id": next(self.message_ids), "date": int(time.time()),
                                    "chat": {"id": user, "type": "private", "first_name": f"Voter {user}"},
                                    "from": self.user(user, language_code), **content})

    async def say(self, user: int, text: str, language_code: str = "en") -> int:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return await self.deliver(self.message_update(user, language_code, **content))

    async def share_contact(self, user: int, phone: str, *, own: bool = True, language_code: str = "en") -> int:
        contact = {"phone_number": phone, "first_name": "Voter", "user_id": user if own else user + 1}
        return await self.deliver(self.message_update(user, language_code, contact=contact))

    async def press(self, user: int, label: str, language_code: str = "en") -> int:
        """Press the button labelled `label` on the newest message that has one."""
        for message in reversed(self.chats.get(user, [])):
            for text, data in message.buttons:
                if text == label:
                    return await self.press_data(user, data, message.message_id, language_code)
        raise LookupError(f"no button {label!r} in the chat of {user}")

    async def press_data(self, user: int, data: str, message_id: int, language_code: str = "en") -> int:
        message = next(m for m in self.chats[user] if m.message_id == message_id)
        query_id = uuid.uuid4().hex[:16]
        query = {"id": query_id, "from": self.user(user, language_code), "chat_instance": str(user),
                 "data": data, "message": self.message_dict(user, message)}
        self.query_users[query_id] = user
        return await self.deliver(self.update(callback_query=query))

    def last_invoice(self, user: int) -> dict[str, Any]:
        for message in reversed(self.chats.get(user, [])):
            if message.invoice is not None:
                return message.invoice
        raise LookupError(f"no invoice in the chat of {user}")

    async def pre_checkout(self, user: int, language_code: str = "en") -> dict[str, Any]:
        """Press "Pay" on the newest invoice: Telegram asks the bot first; its answer."""
        invoice = self.last_invoice(user)
        query_id = uuid.uuid4().hex[:16]
        await self.deliver(self.update(pre_checkout_query={
            "id": query_id, "from": self.user(user, language_code), "currency": invoice["currency"],
            "total_amount": invoice["total_amount"], "invoice_payload": invoice["payload"]}))
        return self.pre_checkout_answers.get(query_id, {"ok": False, "error_message": "no answer"})

    def payment_update(self, user: int, language_code: str = "en") -> dict[str, Any]:
        """The message Telegram sends once the Stars are taken (a new charge id each time)."""
        invoice = self.last_invoice(user)
        charge = f"stxFAKE{uuid.uuid4().hex[:20]}"
        self.charges[charge] = user
        self.transactions.append({"id": charge, "amount": invoice["total_amount"], "date": int(time.time()),
                                  "source": {"type": "user", "user": self.user(user, language_code),
                                             "invoice_payload": invoice["payload"]}})
        return self.message_update(user, language_code, successful_payment={
            "currency": invoice["currency"], "total_amount": invoice["total_amount"],
            "invoice_payload": invoice["payload"], "telegram_payment_charge_id": charge,
            "provider_payment_charge_id": ""})

    async def pay(self, user: int, language_code: str = "en") -> bool:
        """Pay the newest invoice: pre-checkout, then (if the bot said ok) the payment message."""
        answer = await self.pre_checkout(user, language_code)
        if str(answer.get("ok")).lower() not in ("true", "1"):
            return False
        await self.deliver(self.payment_update(user, language_code))
        return True

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()


FAKE_KEY = web.AppKey("fake_bot_api", FakeBotApi)


async def control_user(request: web.Request) -> web.Response:
    """`POST /_user/<id>/<action>`: say (text), press (label), contact (phone), pay; answers the chat after."""
    fake = request.app[FAKE_KEY]
    user, action = int(request.match_info["user"]), request.match_info["action"]
    body = await request.json() if request.can_read_body else {}
    language = str(body.get("language_code", "en"))
    result: Any = None
    try:
        if action == "say":
            result = await fake.say(user, str(body["text"]), language)
        elif action == "press":
            result = await fake.press(user, str(body["label"]), language)
        elif action == "contact":
            result = await fake.share_contact(user, str(body["phone"]), language_code=language)
        elif action == "pay":
            result = await fake.pay(user, language)
        else:
            raise web.HTTPNotFound(text=json.dumps({"error": "unknown action"}), content_type="application/json")
    except (LookupError, KeyError, RuntimeError, aiohttp.ClientError) as exc:
        return web.json_response({"error": str(exc)}, status=409)
    return web.json_response({"result": result, "chat": [m.shown() for m in fake.chats.get(user, [])]})


async def control_chat(request: web.Request) -> web.Response:
    fake = request.app[FAKE_KEY]
    user = int(request.match_info["user"])
    return web.json_response({"chat": [m.shown() for m in fake.chats.get(user, [])],
                              "alerts": fake.alerts.get(user, [])})


async def control_calls(request: web.Request) -> web.Response:
    fake = request.app[FAKE_KEY]
    return web.json_response({"webhook": fake.webhook_url,
                              "calls": [{"method": c.method, "params": c.params} for c in fake.calls]})


async def close_fake(app: web.Application) -> None:
    await app[FAKE_KEY].close()


def create_fake_bot_api_app(fake: FakeBotApi | None = None) -> web.Application:
    app = web.Application()
    app[FAKE_KEY] = fake or FakeBotApi()
    app.router.add_post("/bot{token}/{method}", app[FAKE_KEY].api)
    app.router.add_get("/bot{token}/{method}", app[FAKE_KEY].api)
    app.router.add_post("/_user/{user}/{action}", control_user)
    app.router.add_get("/_user/{user}/chat", control_chat)
    app.router.add_get("/_calls", control_calls)
    app.on_cleanup.append(close_fake)
    return app
