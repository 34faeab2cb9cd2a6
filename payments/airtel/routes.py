"""Airtel's callback, on the one URL configured on the Airtel application (`/payments/airtel/callback`): it names
our transaction id in its body, not in its path, so the order it is about is read from there."""

from __future__ import annotations

from aiohttp import web

from payments.airtel.codes import NAME
from payments.airtel.collection import order_of
from payments.answers import parsed_object
from payments.callbacks import answer_callback

CALLBACK_PATH = "/payments/airtel/callback"


async def airtel_callback(request: web.Request) -> web.Response:
    """Kept and verified as every provider's (`payments.callbacks`): one naming no order of ours changes nothing."""
    data = parsed_object(await request.read()) or {}
    record = data.get("transaction")
    order_id = order_of(record.get("id")) if isinstance(record, dict) else None
    return await answer_callback(request, NAME, order_id)


def setup(app: web.Application) -> None:
    app.router.add_post(CALLBACK_PATH, airtel_callback)
