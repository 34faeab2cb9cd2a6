"""The bot's session keeps the models aiogram reads the Bot API's answers with: pydantic holds a generic model built
inside a function only weakly, so a web process's collections freed them and every answer after rebuilt its model
(~6 ms of CPU each: an eighth of a web process's CPU under Telegram votes)."""

from __future__ import annotations

import gc
import json
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiogram.methods.base import Response

EDITED = {"message_id": 7, "date": 1795883920, "chat": {"id": 42, "type": "private"}, "text": "07 Grace Ndongo"}


def answer_model(returning: Any) -> weakref.ref[type[Response[Any]]]:
    """The model aiogram reads such an answer with, as pydantic has it cached (built here if it is not)."""
    from aiogram.methods.base import Response

    return weakref.ref(Response[returning])  # type: ignore[valid-type]


async def test_the_model_of_an_answer_read_once_outlives_a_collection() -> None:
    # aiogram imported here, not at the module's top: its import builds ~700 pydantic models (~5 s of CPU), and every
    # test process imports every test module to collect it, though one runs this test.
    from aiogram import Bot
    from aiogram.methods import EditMessageText

    from channels.telegram.bot import PromptlyClosedSession

    session = PromptlyClosedSession()
    bot = Bot("42:TEST", session=session)
    method = EditMessageText(chat_id=42, message_id=7, text="07 Grace Ndongo")
    answer = session.check_response(bot, method, 200, json.dumps({"ok": True, "result": EDITED}))
    assert answer.result.text == "07 Grace Ndongo"  # type: ignore[union-attr]
    model = answer_model(EditMessageText.__returning__)
    del answer
    gc.collect()
    assert model() is not None, "the answer's model was freed: the next answer builds it again"
    await session.close()
