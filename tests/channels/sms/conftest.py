"""The SMS tests' fixtures: AT faked at the wire, and a job context whose SMS go to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext, build_receipt_senders
from channels.sms.receipts import SmsReceiptSender
from gateway.db.engine import Sessions
from gateway.kit.outbound_tls import verified_tls


@pytest.fixture
async def job(settings: Settings, sessions: Sessions, redis: Redis) -> AsyncIterator[JobContext]:
    at_settings = settings.model_copy(update={"at_username": "sandbox", "at_api_key": SecretStr("at-key-0123456789")})
    async with httpx.AsyncClient(verify=verified_tls()) as http:
        registry = build_providers(at_settings, http)
        senders = build_receipt_senders(at_settings, sessions, http)
        receipts = senders["sms"]
        assert isinstance(receipts, SmsReceiptSender)
        # AT's refusals retried at once, not after 1, 3 and 9 s: what a test of a refusal shows is where the
        # message is left, which the delays do not change.
        receipts.sender.retry_delays = (0.0, 0.0, 0.0)
        yield JobContext(at_settings, sessions, redis, registry, senders)
        await registry.aclose()
