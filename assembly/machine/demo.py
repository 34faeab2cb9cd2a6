"""The demo contests: the main one with every channel's demo settings of it (SMS's short code and keyword…): the
core's seed (gateway.db.seed) knows no channel, the channel list does; and, given a storage, its candidates' clips
and photos (assembly.machine.demo_media); and the Kenyan one, paid by M-Pesa."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from assembly.channel_list import CONTEST_SETTINGS
from assembly.machine.demo_media import give_demo_media
from gateway.core.channel_settings import channel_fields
from gateway.db import seed
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from media.local_storage import LocalStorage
from payments.mpesa.paybills import PAYBILL_SETTINGS, PaybillSettings

# The Kenyan demo's paybill: the sandbox's shortcode (the only one it knows), whose C2B payments the worker reads.
KENYA_DEMO_PAYBILL = "174379"
# Its SMS line (the main demo's is 20123 VOTE): "KURA" is Swahili for a vote.
KENYA_DEMO_CHANNELS = {"sms_short_code": "20254", "sms_keyword": "KURA"}
# Its USSD code: Kenyan voters dial their own (a contest's code is the operator's, one per country).
KENYA_DEMO_USSD_CODE = "*384*254#"


async def seed_demo(sessions: Sessions, storage: LocalStorage | None = None) -> Contest:
    """Create the demo contest if missing; keep it open if an old one is about to close; with `storage`, give its
    candidates who have none a clip and a photo."""
    contest = await seed.seed_demo(sessions, [channel.demo().save for channel in CONTEST_SETTINGS])
    if storage is not None:
        await give_demo_media(sessions, storage, contest.id)
    return contest


async def seed_demos(sessions: Sessions, storage: LocalStorage | None = None) -> Contest:
    """The main demo contest (`seed_demo`), and the Kenyan one, in KES, voted for on the web and paid by an M-Pesa
    prompt to a Kenyan number or from the M-Pesa menu to its paybill; the main one returned."""
    contest = await seed_demo(sessions, storage)
    kenya = await seed.seed_kenya_demo(sessions)
    async with sessions.begin() as session:  # its paybill, unless one is kept: "Paybill 174379, account 07"
        kept = (await PAYBILL_SETTINGS.load(session, [kenya.id]))[kenya.id]
        if kept.paybill is None:
            await PaybillSettings(paybill=KENYA_DEMO_PAYBILL, remainder=kept.remainder).save(session, kenya.id)
        await give_kenyan_channels(session, kenya.id)
    return contest


async def give_kenyan_channels(session: AsyncSession, contest_id: int) -> None:
    """The Kenyan demo's settings of each channel: where it has no SMS short code yet, a short code of its own and a
    Swahili keyword (`KURA 03 3` to 20254); where it has no USSD code (a demo seeded when it was voted for on the web
    only), Kenya's; each other channel's kept, or its defaults."""
    fields = (await channel_fields(session, CONTEST_SETTINGS, [contest_id]))[contest_id]
    given: dict[str, Any] = {} if fields.get("sms_short_code") else dict(KENYA_DEMO_CHANNELS)
    if not fields.get("ussd_service_codes"):
        given["ussd_service_codes"] = [KENYA_DEMO_USSD_CODE]
    if not given:
        return
    for channel in CONTEST_SETTINGS:
        await channel.parse({**fields, **given}).save(session, contest_id)
