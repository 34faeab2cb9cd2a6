"""`python -m channels.telegram.fake_api --host 127.0.0.1 --port 8091`: the fake Bot API until Ctrl-C."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from channels.telegram.fake_api.server import create_fake_bot_api_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m channels.telegram.fake_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"Fake Telegram Bot API: http://{args.host}:{args.port}/bot<token>/<method>  (user: /_user/<id>/…)")
    web.run_app(create_fake_bot_api_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
