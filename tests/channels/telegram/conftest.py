"""The app with its bot pointed at a local fake Bot API server, which plays the user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.web.keys import STARTS
from channels.telegram.fake_api import FakeBotApi, create_fake_bot_api_app

SECRET = "test-webhook-secret_0123456789"
TOKEN = "42:TEST"


@pytest.fixture
async def fake_bot_api() -> AsyncIterator[tuple[FakeBotApi, str]]:
    fake = FakeBotApi()
    server = TestServer(create_fake_bot_api_app(fake))
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def bot_settings(settings: Settings, fake_bot_api: tuple[FakeBotApi, str]) -> Settings:
    return settings.model_copy(update={"telegram_bot_token": SecretStr(TOKEN),
                                       "telegram_webhook_secret": SecretStr(SECRET),
                                       "telegram_api_base": fake_bot_api[1]})


@pytest.fixture
async def bot_client(clean: None, bot_settings: Settings,
                     fake_bot_api: tuple[FakeBotApi, str]) -> AsyncIterator[TestClient]:
    """The running app, its bot talking to the fake Bot API, which posts to the app's webhook."""
    fake, _ = fake_bot_api
    app = create_app(bot_settings)
    async with TestClient(TestServer(app)) as client:
        fake.webhook_url, fake.secret = str(client.make_url("/telegram/webhook")), SECRET
        yield client
        await app[STARTS].close(grace=0)


@pytest.fixture
def telegram(bot_client: TestClient, fake_bot_api: tuple[FakeBotApi, str]) -> FakeBotApi:
    """The fake user's side of the chat."""
    return fake_bot_api[0]
