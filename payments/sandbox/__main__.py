"""`python -m payments.sandbox --host 127.0.0.1 --port 8090`: run the sandboxes until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web

from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl

MTN_STATUS_CAP = 10.0  # MTN: "Get status transaction requests are capped to 10 requests per second"
ORANGE_REQUEST_CAP = 25.0  # Orange's gateway: 25 requests a second per application, every API together


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m payments.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--success-delay", type=float, default=1.0, help="seconds until ordinary outcomes")
    parser.add_argument("--long-delay", type=float, default=20.0, help="seconds until the delayed magic number")
    parser.add_argument("--status-calls-per-second", type=float,
                        default=float(os.environ.get("SANDBOX_MTN_STATUS_CALLS_PER_SECOND") or MTN_STATUS_CAP),
                        help="MTN status GETs a second per API user before 429 (MTN: 10; 0: no cap; env "
                             "SANDBOX_MTN_STATUS_CALLS_PER_SECOND)")
    parser.add_argument("--orange-requests-per-second", type=float,
                        default=float(os.environ.get("SANDBOX_ORANGE_REQUESTS_PER_SECOND") or ORANGE_REQUEST_CAP),
                        help="an Orange application's requests a second, every API together, before 403 code 53 "
                             "(Orange: 25; 0: no cap; env SANDBOX_ORANGE_REQUESTS_PER_SECOND)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    control = SandboxControl(success_delay=args.success_delay, long_delay=args.long_delay,
                             status_calls_per_second=args.status_calls_per_second or None,
                             orange_requests_per_second=args.orange_requests_per_second or None)
    base = f"http://{args.host}:{args.port}"
    print(f"MTN MoMo sandbox:     {base}/mtn     (magic payer numbers: GET {base}/)")
    print(f"Orange Money sandbox: {base}/orange  (WebPay and Cameroon mp)")
    print(f"Airtel Money sandbox: {base}/airtel  (USSD push, payouts; its app's callback URL: {base}/airtel/_app)")
    print(f"M-Pesa sandbox:       {base}/mpesa   (Daraja STK Push; magic phone endings: GET {base}/)")
    print(f"Switches:             {base}/_control")
    web.run_app(create_sandbox_app(control), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
