"""SMS's parts for the assembly (assembly/channel_list.py): routes, the inbound job and the backstop, receipts,
the local fake of Africa's Talking, `gateway sms`, the production check, its tables' migrations, its settings of
a contest and its failed messages."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.phone.at_account import at_account
from channels.sms import routes
from channels.sms.backstop import backstop_pass
from channels.sms.contest_settings import SMS_CONTEST_SETTINGS
from channels.sms.failures import SMS_FAILURES
from channels.sms.fake_at import DEFAULT_URL as AT_FAKE_URL
from channels.sms.handling import CHANNEL, CollectedStarts, SmsContext, handle_inbound
from channels.sms.how_to_vote import how_to_vote
from channels.sms.models import SmsContest
from channels.sms.receipts import SmsNoticeSender, SmsReceiptSender
from channels.sms.sender import SmsSender
from channels.sms.settings import SmsSettings, sms_token_problem
from gateway.core.channel_queries import live_contest_ids
from gateway.core.orders.receipts import ReceiptSender
from gateway.core.phone_texts import PhoneTexter
from gateway.core.worker_passes import WorkerPass
from gateway.db.engine import Sessions
from gateway.kit.channel_parts import ChannelParts
from gateway.kit.job_resources import JobResources
from gateway.kit.secret_rules import MIN_CALLBACK_TOKEN_LENGTH, secret_problem
from gateway.kit.stand_ins import StandIn, listen_address

log = logging.getLogger(__name__)


def sms_context(ctx: JobResources[SmsSettings]) -> SmsContext:
    """A job's context; its sender is the process's, whose connection to AT stays open between jobs."""
    starts = CollectedStarts()
    sender = ctx.kept_for_jobs("sms.sender", lambda: SmsSender(ctx.sessions, at_account(ctx.settings)))
    return SmsContext(ctx.vote_service(starts), starts, ctx.sessions, sender, ctx.start_payment, ctx.phone_wallets)


async def inbound_job(ctx: JobResources[SmsSettings], inbound_id: int) -> str:
    """One message: the job a web process queued for each before they were handed over together."""
    return await handle_inbound(sms_context(ctx), inbound_id)


async def inbound_batch_job(ctx: JobResources[SmsSettings], inbound_ids: list[int]) -> dict[str, int]:
    """The messages one hand-over queued (channels.sms.routes), one after the other, each on a context of its own;
    returns how many had each outcome. One that fails fails only itself: the job raises after the others were
    answered, and the backstop answers it (its row is still unhandled). Not several at once: each would hold
    connections of its own, and the embedded PostgreSQL's hundred are shared by every process of the installation
    (two web processes keep up to ~70, four workers up to forty more); one after the other, a worker holds what it
    held with a job a message, and the saving (RQ's bookkeeping of a job a message) is the same."""
    counted: dict[str, int] = {}
    failed: list[int] = []
    for inbound_id in inbound_ids:
        try:
            outcome = await handle_inbound(sms_context(ctx), inbound_id)
        except Exception:
            log.exception("SMS %s not handled; the backstop answers it", inbound_id)
            failed.append(inbound_id)
            continue
        counted[outcome] = counted.get(outcome, 0) + 1
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(inbound_ids)} SMS not handled: {failed}")
    return counted


async def backstop_job(ctx: JobResources[SmsSettings]) -> int:
    """Every minute: messages whose callback or job was lost (channels/sms/backstop.py)."""
    return await backstop_pass(ctx.sessions, ctx.redis, at_account(ctx.settings),
                               lambda inbound_id: handle_inbound(sms_context(ctx), inbound_id))


def receipts(settings: SmsSettings, sessions: Sessions, http: httpx.AsyncClient) -> ReceiptSender:
    return SmsReceiptSender(sessions, SmsSender(sessions, at_account(settings)))


def texter(settings: SmsSettings, sessions: Sessions, http: httpx.AsyncClient) -> PhoneTexter:
    return SmsNoticeSender(SmsSender(sessions, at_account(settings)))


def production_problems(settings: SmsSettings, in_use: bool) -> list[str]:
    problems = []
    if settings.at_api_key and (weak := secret_problem("AT_API_KEY", settings.at_api_key, MIN_CALLBACK_TOKEN_LENGTH)):
        problems.append(weak)
    if in_use and (token := sms_token_problem(settings)):
        problems.append(f"a contest takes SMS votes but {token}: without a real token anyone could place orders by SMS")
    if in_use and not (settings.at_username and settings.at_api_key):
        problems.append("a contest takes SMS votes but AT_USERNAME or AT_API_KEY is unset: no reply could be sent")
    return problems


async def check_production(settings: SmsSettings, session: AsyncSession) -> list[str]:
    in_use = await session.scalar(select(func.count()).select_from(SmsContest).where(
        SmsContest.contest_id.in_(live_contest_ids()), SmsContest.short_code.is_not(None),
        SmsContest.keyword.is_not(None)))
    return production_problems(settings, bool(in_use))


# Without AT credentials, development sends SMS to a local fake of AT's API (`gateway run` starts it).
def at_fake_needed(settings: SmsSettings) -> bool:
    credentials = settings.at_username and settings.at_api_key
    return not settings.is_production and settings.sandbox_enabled and not credentials


def at_fake_address(settings: SmsSettings) -> tuple[str, int]:
    return listen_address(settings.at_fake_url or AT_FAKE_URL, 8091)


def at_fake_environment(settings: SmsSettings) -> dict[str, str]:
    host, port = at_fake_address(settings)
    return {"AT_FAKE_URL": f"http://{host}:{port}"}  # where every process sends its SMS


AT_FAKE = StandIn[SmsSettings](
    "at-fake", "channels.sms.fake_at", at_fake_needed, at_fake_address,
    announce=lambda settings: (f"  SMS (AT fake) {settings.at_fake_url or AT_FAKE_URL}/messages  "
                               "(text it: gateway sms --from +237670000001 \"VOTE 07 5\")"),
    environment=at_fake_environment,
)


def simulate(settings: SmsSettings, args: argparse.Namespace) -> int:
    """Text the running service like a phone and print the replies and receipts as they arrive."""
    from channels.sms.simulator import main

    return main(args)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser("sms", help="a phone simulator that texts the running service (AT's fake shows replies)")
    command.add_argument("text", help='the message, e.g. "VOTE 07 5"')
    command.add_argument("--from", dest="sender", default="+237670000001", help="the phone number texting")
    command.add_argument("--to", default="20123", help="the short code")
    command.add_argument("--url", help="the service's base URL (default: GATEWAY_HOST:GATEWAY_PORT)")
    command.add_argument("--at-url", help="the local AT fake (default: AT_FAKE_URL or http://127.0.0.1:8091)")
    command.add_argument("--wait", type=float, default=90.0, help="seconds to wait for the reply and the receipt")
    command.set_defaults(func=simulate)


SMS = ChannelParts[SmsSettings](
    CHANNEL, routes.setup,
    passes=(WorkerPass(f"{CHANNEL}-{routes.INBOUND_JOB}", inbound_batch_job),
            WorkerPass(f"{CHANNEL}-inbound", inbound_job),
            WorkerPass(f"{CHANNEL}-backstop", backstop_job, every=60)),
    receipts=receipts,
    texts_phones=texter,
    pushes_payment_prompt=True,
    stand_ins=(AT_FAKE,),
    commands=add_commands,
    production_problems=check_production,
    migrations=Path(__file__).with_name("migrations"),
    contest_settings=SMS_CONTEST_SETTINGS,
    failed_messages=SMS_FAILURES,
    how_to_vote=how_to_vote,
)
