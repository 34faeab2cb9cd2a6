"""A paybill's C2B URLs registered with Daraja (Register URL, `POST /mpesa/c2b/v2/registerurl`): ShortCode,
ResponseType, ConfirmationURL, ValidationURL. Done by the worker for every live contest's paybill not registered yet
(`register_pass`, every 5 minutes) and by `gateway mpesa register-urls`; registering the same URLs again changes
nothing (a paybill is marked once Daraja took its URLs, and asked again only when they change).

ResponseType "Cancelled": what Daraja does when our ValidationURL does not answer in time; a vote that could not be
checked is better not paid than paid for nothing. It matters only where Safaricom turned external validation on
for the paybill (the business asks Safaricom for it): without it Daraja never calls the ValidationURL, takes every
payment, and an account number naming no candidate reaches only the confirmation (kept for a person there).

Safaricom's production lets a shortcode's URLs be registered once through the API (a second call is refused, "URLs
are already registered"; changing them goes through Safaricom's support or its portal): that answer is taken as
registered, and logged, since the URLs kept may be older ones. Some integrators were told by Safaricom's API support
in 2025 to use v1 (`/mpesa/c2b/v1/registerurl`, same body) where v2 was refused: `MPESA_C2B_REGISTER_PATH`."""

from __future__ import annotations

import hashlib
import logging

from redis.asyncio import Redis

from gateway.core.providers import PaymentError
from payments.answers import json_object_or_empty
from payments.mpesa.api import DarajaApi, error_of
from payments.mpesa.paths import confirmation_url, forbidden_words, validation_url
from payments.mpesa.request_cap import NAME

log = logging.getLogger(__name__)

REGISTER_PATH = "/mpesa/c2b/v2/registerurl"
RESPONSE_TYPE = "Cancelled"
ALREADY = "already registered"


def registered_key(paybill: str) -> str:
    return f"mpesa:c2b:registered:{paybill}"


def register_body(paybill: str, public: str, key: bytes) -> dict[str, str]:
    body = {"ShortCode": paybill, "ResponseType": RESPONSE_TYPE,
            "ConfirmationURL": confirmation_url(public, key, paybill),
            "ValidationURL": validation_url(public, key, paybill)}
    if words := forbidden_words(body["ConfirmationURL"] + body["ValidationURL"]):
        raise PaymentError(NAME, "forbidden_words", f"Daraja refuses URLs holding {words}: set PUBLIC_BASE_URL "
                                                    "to an address without them.")
    return body


class C2bRegistration:
    """Registering a paybill's URLs, once for each set of URLs."""

    def __init__(self, api: DarajaApi, public: str, key: bytes, redis: Redis | None,
                 path: str = REGISTER_PATH) -> None:
        self._api, self._public, self._key, self._redis, self._path = api, public, key, redis, path
        self._here: dict[str, str] = {}

    async def register(self, paybill: str, *, again: bool = False) -> str:
        """"registered", "unchanged" (these URLs were registered before) or "already registered" (Daraja kept
        earlier ones); raises PaymentError when Daraja refuses."""
        body = register_body(paybill, self._public, self._key)
        mark = hashlib.sha256(f"{body['ConfirmationURL']} {body['ValidationURL']}".encode()).hexdigest()
        if not again and await self._marked(paybill) == mark:
            return "unchanged"
        response = await self._api.post(self._path, body)
        data = json_object_or_empty(response)
        said = f"{data.get('errorMessage') or data.get('ResponseDescription') or ''}".lower()
        if response.status_code == 200 and str(data.get("ResponseCode", "0")) in ("0", "00000000"):
            outcome = "registered"
        elif ALREADY in said or "already been registered" in said:
            log.warning("Daraja keeps earlier C2B URLs of paybill %s (%s): check them on its portal", paybill, said)
            outcome = ALREADY
        else:
            raise error_of(response)
        await self._mark(paybill, mark)
        return outcome

    async def _marked(self, paybill: str) -> str | None:
        if self._redis is None:
            return self._here.get(paybill)
        raw = await self._redis.get(registered_key(paybill))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def _mark(self, paybill: str, mark: str) -> None:
        if self._redis is None:
            self._here[paybill] = mark
        else:
            await self._redis.set(registered_key(paybill), mark)
