"""The admin area draws, shows and documents each channel's own settings of a contest from what the channel
describes (`describe`), in the channel's own words: a channel it has never heard of gets its inputs, its values
on the contest page and its place in the API document, and no admin file names a channel's field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession

import admin
from admin.keys import CONTEST_SETTINGS as CONTEST_SETTINGS_KEY
from assembly.channel_list import CONTEST_SETTINGS
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from gateway.core.channel_settings import ChannelContestSettings, ContestField, ContestFieldset
from gateway.db.engine import Sessions
from tests.admin.accounts import browser_sign_in, contest_fields, make_account

LABELS = {"en": ("WhatsApp", "WhatsApp number", "Votes a chat may buy a day", "Receipts in the chat",
                 "The number voters write to"),
          "fr": ("WhatsApp", "Numéro WhatsApp", "Votes par discussion et par jour", "Reçus dans la discussion",
                 "Le numéro auquel les votants écrivent")}


@dataclass(frozen=True)
class ChatSettings:
    """A contest's settings of a channel the admin area has never heard of (kept in memory: it is the test's)."""

    number: str = ""
    daily_votes: int = 0
    receipts: bool = False

    def fields(self) -> dict[str, Any]:
        return {"whatsapp_number": self.number, "whatsapp_daily_votes": self.daily_votes,
                "whatsapp_receipts": self.receipts}

    async def save(self, session: AsyncSession, contest_id: int) -> None:
        KEPT[contest_id] = self

    async def check_clashes(self, session: AsyncSession, contest_id: int, live_others: Sequence[int]) -> None:
        return None


KEPT: dict[int, ChatSettings] = {}


class ChatChannelSettings:
    """Its `ChannelContestSettings`: one field of each kind, with help text."""

    def parse(self, form: Mapping[str, Any]) -> ChatSettings:
        return ChatSettings(number=str(form.get("whatsapp_number") or ""),
                            daily_votes=int(form.get("whatsapp_daily_votes") or 0),
                            receipts=form.get("whatsapp_receipts") in (True, "on"))

    def demo(self) -> ChatSettings:
        return ChatSettings()

    async def load(self, session: AsyncSession, contest_ids: Sequence[int]) -> dict[int, ChatSettings]:
        return {contest_id: KEPT.get(contest_id, ChatSettings()) for contest_id in contest_ids}

    def describe(self, lang: str) -> ContestFieldset:
        legend, number, daily, receipts, help_text = LABELS[lang]
        return ContestFieldset(legend=legend, fields=(
            ContestField("whatsapp_number", "text", {"type": "string", "pattern": "^[0-9]*$"}, number, help_text),
            ContestField("whatsapp_daily_votes", "number", {"type": "integer", "minimum": 0}, daily),
            ContestField("whatsapp_receipts", "checkbox", {"type": "boolean"}, receipts)))


CHAT_CHANNEL: ChannelContestSettings = ChatChannelSettings()


@pytest.fixture
async def chat_client(clean: None, settings: Settings) -> AsyncIterator[TestClient]:
    """The app with one more channel's settings of a contest, handed over as the assembly hands the others."""
    app = create_app(settings)
    app[CONTEST_SETTINGS_KEY] = (*CONTEST_SETTINGS, CHAT_CHANNEL)
    KEPT.clear()
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
        await app[STARTS].close(grace=0)


async def test_a_channel_s_described_fields_are_drawn_saved_shown_and_documented(
        chat_client: TestClient, sessions: Sessions) -> None:
    token = await browser_sign_in(chat_client, await make_account(sessions, "owner"))
    blank = await (await chat_client.get("/admin/contests/new")).text()
    assert "<legend>WhatsApp</legend>" in blank and '<label for="whatsapp_number">WhatsApp number</label>' in blank
    assert '<input id="whatsapp_daily_votes" name="whatsapp_daily_votes" inputmode="numeric" value="0">' in blank
    assert 'type="checkbox" id="whatsapp_receipts" name="whatsapp_receipts" value="on" >' in blank
    assert "The number voters write to" in blank
    french = await (await chat_client.get("/admin/contests/new?lang=fr")).text()
    assert "Numéro WhatsApp" in french and "Reçus dans la discussion" in french and "WhatsApp number" not in french

    fields = {k: (v if not isinstance(v, list) else v[0]) for k, v in contest_fields().items()}
    made = await chat_client.post("/admin/contests/new", allow_redirects=False, data={
        **fields, "csrf_token": token, "whatsapp_number": "237677", "whatsapp_daily_votes": "40",
        "whatsapp_receipts": "on"})
    assert made.status == 303, await made.text()
    page = await (await chat_client.get(made.headers["Location"] + "?lang=en")).text()
    assert ("WhatsApp (WhatsApp number: 237677, Votes a chat may buy a day: 40, Receipts in the chat: yes)"
            in page)
    assert "SMS (SMS short code: 20777, SMS keyword: GALA)" in page
    french_page = await (await chat_client.get(made.headers["Location"] + "?lang=fr")).text()
    assert "WhatsApp (Numéro WhatsApp : 237677, Votes par discussion et par jour : 40" in french_page
    edit = await (await chat_client.get(made.headers["Location"] + "/edit")).text()
    assert 'name="whatsapp_number" value="237677"' in edit and 'name="whatsapp_receipts" value="on" checked' in edit

    document = await (await chat_client.get("/api/v1/admin/openapi.json")).json()
    properties = document["components"]["schemas"]["ContestFields"]["properties"]
    assert properties["whatsapp_number"] == {"type": "string", "pattern": "^[0-9]*$", "description": "WhatsApp number"}
    assert properties["whatsapp_receipts"] == {"type": "boolean", "description": "Receipts in the chat"}


async def test_the_channels_own_fields_are_labelled_from_their_own_catalogs(
        client: TestClient, sessions: Sessions) -> None:
    await browser_sign_in(client, await make_account(sessions, "organiser"))
    english = await (await client.get("/admin/contests/new?lang=en")).text()
    french = await (await client.get("/admin/contests/new?lang=fr")).text()
    for lang, page in (("en", english), ("fr", french)):
        for fieldset in (channel.describe(lang) for channel in CONTEST_SETTINGS):
            assert f"<legend>{fieldset.legend}</legend>" in page, (lang, fieldset.legend)
            for field in fieldset.fields:
                assert f'name="{field.name}"' in page and field.label in page, (lang, field)
    assert '<label for="sms_short_code">Numéro court SMS</label>' in french and "Mot-clé SMS" in french
    assert "Le bot propose aussi le mobile money" in french and "SMS short code" not in french
    assert "<legend>Telegram Stars</legend>" in english and 'name="stars_per_vote"' in english
    document = await (await client.get("/api/v1/admin/openapi.json")).json()
    properties = document["components"]["schemas"]["ContestFields"]["properties"]
    assert properties["sms_keyword"] == {"type": ["string", "null"], "description": "SMS keyword"}
    assert properties["telegram_mobile_money"]["type"] == "boolean"


def test_no_admin_file_names_a_channel_s_field() -> None:
    """The channels own their fields: the admin area reaches them only through what the channels describe."""
    names = {field.name for channel in CONTEST_SETTINGS for field in channel.describe("en").fields}
    assert names >= {"sms_short_code", "sms_keyword", "telegram_mobile_money"}
    folder = Path(admin.__file__).parent
    for path in (*folder.rglob("*.py"), *folder.rglob("*.html")):
        text = path.read_text()
        assert not [name for name in names if name in text], path
