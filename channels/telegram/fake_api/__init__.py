"""A local fake of Telegram's Bot API: the bot talks to it in tests and in development
without a token, and it plays a user towards the bot's webhook (`gateway telegram --simulate`)."""

from channels.telegram.fake_api.server import FakeBotApi, create_fake_bot_api_app

__all__ = ["FakeBotApi", "create_fake_bot_api_app"]
