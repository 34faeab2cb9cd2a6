"""Daraja's cap on our requests. Safaricom's API gateway (Apigee) holds each Daraja app to a spike arrest of its own
(granted per app, a few requests a second unless Safaricom raised it) and answers 429 past it. So every request of
one app (its token, prompts, queries, reversals, payouts) takes a turn of the app's shared schedule
(`payments.paced_requests`) at 90% of the cap set (`MPESA_REQUESTS_PER_SECOND`); a 429 that still comes back is sent
again after a wait, and one refused on every try is "slow down" (`ProviderRateLimited`, retryable), never a refusal
of the payment."""

from __future__ import annotations

from payments.paced_requests import RequestCap

NAME = "mpesa"
TOO_MANY_REQUESTS = 429
RESEND_DELAYS = (1.0, 2.0)

DARAJA_CAP = RequestCap.by_status(NAME, TOO_MANY_REQUESTS, "Daraja refused a request over the app's rate (429).")
