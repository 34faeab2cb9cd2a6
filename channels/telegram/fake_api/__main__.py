"""`python -m channels.telegram.fake_api --host 127.0.0.1 --port 8092`: the fake Bot API until Ctrl-C."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from channels.telegram.fake_api.server import FakeBotApi, create_fake_bot_api_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m channels.telegram.fake_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--webhook-url", help="where to post the user's updates (the bot's setWebhook also sets it)")
    parser.add_argument("--secret", help="the X-Telegram-Bot-Api-Secret-Token sent with them")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"Fake Telegram Bot API: http://{args.host}:{args.port}/bot<token>/<method>  (user: /_user/<id>/…)")
    fake = FakeBotApi(args.webhook_url, args.secret)
    web.run_app(create_fake_bot_api_app(fake), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
