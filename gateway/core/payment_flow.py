"""TEMPORARY, for the channels' imports only (issue 15, item 1): the payment flow now lives in
`gateway.core.payments`. Delete this module at merge, once channels/ussd/routes.py, channels/web/api.py
and channels/web/pages.py import `gateway.core.payments.starts` (or the core's service) instead."""

from __future__ import annotations

from gateway.core.payments.starts import StartOutcome, begin_vote, needs_redirect

__all__ = ["StartOutcome", "begin_vote", "needs_redirect"]
