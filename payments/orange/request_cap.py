"""Orange's cap on our requests. Orange's API gateway allows an application 25 requests a second across all its APIs
(the token endpoint, WebPay's payments, the push's init and pay, and every status call, together); past it, it
answers HTTP 403 with code 53, "Too many requests", and asks for a short wait (seconds) before the request is sent
again. (From a transcription of Orange's error-handling page, "Best practices for API error handling and
troubleshooting" on developer.orange.com: its spike arrest.)

So every request of one application (its client id) takes a turn of the application's shared schedule
(`payments.paced_requests`) at 90% of the cap. A 403/53 that still comes back (another deployment on the same
application, a cap Orange lowered) is sent again after a wait; one refused on every try is "slow down"
(`ProviderRateLimited`, retryable), never a refusal of the payment: a start is tried again later and a status check
on a later pass, while the order stays pending.
"""

from __future__ import annotations

import httpx

from gateway.core.providers import ProviderRateLimited
from payments.answers import json_object_or_empty
from payments.paced_requests import RequestCap

NAME = "orange"
REQUESTS_PER_SECOND = 25.0  # Orange's gateway, per application, every API together
TOO_MANY_REQUESTS = 53  # the gateway's error code, with HTTP 403
RESEND_DELAYS = (1.0, 2.0)  # Orange: wait "a short delay (in the range of seconds)" before sending again


def too_many_requests(response: httpx.Response) -> bool:
    """The gateway's 403 for going over the application's rate (code 53), not a refusal of the request."""
    if response.status_code != 403:
        return False
    code = json_object_or_empty(response).get("code")
    return str(code) == str(TOO_MANY_REQUESTS)


def rate_limited() -> ProviderRateLimited:
    return ProviderRateLimited(NAME, "too_many_requests", "Orange refused a request over the application's rate "
                               "(403, code 53).", retryable=True, status=403)


ORANGE_CAP = RequestCap(NAME, too_many_requests, rate_limited)
