"""Money in's one door (`StartProtocol`): an order's insert leases its start only when that start is about to run
in this process (a payment page's now, a prompt pushed at once or after a job's reply); a delayed prompt,
or one its channel may cancel, claims its own when it runs."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from channels.sms.handling import CollectedStarts
from gateway.core.money_in.start_protocol import StartProtocol
from gateway.core.money_in.start_queue import PaymentStarts
from gateway.core.money_in.starting import START_LEASE
from gateway.db.engine import Sessions
from gateway.kit.keys import PROVIDERS
from tests.channel_names import Channel
from tests.factories import PENDING_TTL


async def never_started(*_: object) -> None:
    raise AssertionError("no start is asked for by the terms")


async def test_only_a_start_about_to_run_here_is_leased_by_its_order_s_insert(client: TestClient,
                                                                               sessions: Sessions) -> None:
    providers = client.app[PROVIDERS]
    page, prompt = providers.for_order("orange", Channel.WEB), providers.for_order("mtn", Channel.WEB)
    assert page.redirects and not prompt.redirects  # WebPay's page on the web; MTN's prompt
    web = StartProtocol(sessions, providers, PaymentStarts(never_started), pending_ttl=PENDING_TTL)
    job = StartProtocol(sessions, providers, CollectedStarts(), pending_ttl=PENDING_TTL)

    assert (await web.terms("mtn", Channel.WEB)).start_lease == START_LEASE
    assert (await web.terms("orange", Channel.WEB, push_after=3.0)).start_lease == START_LEASE  # a page starts now
    assert (await job.terms("orange", Channel.WEB)).start_lease == START_LEASE
    assert (await web.terms("mtn", Channel.WEB, push_after=3.0)).start_lease is None  # its lease would age
    assert (await web.terms("mtn", Channel.WEB, cancellable=True)).start_lease is None  # a lease marks it as tried
    assert (await job.terms("mtn", Channel.WEB)).start_lease == START_LEASE  # the job pushes it after its reply
    assert (await job.terms("mtn", Channel.WEB, cancellable=True)).start_lease is None
    terms = await web.terms("mtn", Channel.WEB, push_after=3.0)
    assert terms.push_after == 3.0 and terms.pending_ttl >= PENDING_TTL
