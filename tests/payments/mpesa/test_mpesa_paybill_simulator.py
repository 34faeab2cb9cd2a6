"""`gateway mpesa paybill` pays the Kenyan demo's paybill from a terminal, as a voter would from the M-Pesa menu: the
seed gave the demo its paybill, the command registers its URLs with the local sandbox and pays it there, the sandbox
asks our validation and posts the confirmation to the running service, and the votes count."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestServer
from sqlalchemy import select

from assembly.machine.demo import KENYA_DEMO_PAYBILL, seed_demos
from assembly.settings import Settings
from gateway.db import seed
from gateway.db.engine import Sessions
from gateway.db.models import Contest
from gateway.kit.keys import SETTINGS
from payments.sandbox import create_sandbox_app
from payments.sandbox.control import SandboxControl
from tests.commands import command_env, gateway
from tests.factories import tallies
from tests.live_app import app_beside


async def test_the_simulator_pays_the_demo_paybill_and_its_votes_count(clean: None, settings: Settings,
                                                                         sessions: Sessions) -> None:
    await seed_demos(sessions)
    async with TestServer(create_sandbox_app(SandboxControl(success_delay=0.05))) as sandbox, \
            app_beside(sandbox, settings) as client:
        served = client.app[SETTINGS]
        env = command_env(settings, SANDBOX_URL=served.sandbox_url, PUBLIC_BASE_URL=served.public_base_url,
                          SECRET_KEY=served.secret_key.get_secret_value())
        ran = await asyncio.to_thread(gateway, "mpesa", "paybill", "--contest", seed.KENYA_DEMO_SLUG, "--account",
                                      "3", "--amount", "3000", "--phone", "0712000102", env=env)
    assert ran.returncode == 0, ran.stderr
    assert f"paid KES 3000 to paybill {KENYA_DEMO_PAYBILL}, account 3: M-Pesa receipt" in ran.stdout
    assert ": paid, 300 votes" in ran.stdout, ran.stdout
    async with sessions() as session:
        kenya = await session.scalar(select(Contest.id).where(Contest.slug == seed.KENYA_DEMO_SLUG))
    assert kenya is not None and (await tallies(sessions, kenya))["03"] == 300  # "3" typed: "03"


async def test_an_unknown_code_is_refused_before_any_money_moves(clean: None, settings: Settings,
                                                                 sessions: Sessions) -> None:
    await seed_demos(sessions)
    async with TestServer(create_sandbox_app(SandboxControl())) as sandbox, app_beside(sandbox, settings) as client:
        served = client.app[SETTINGS]
        env = command_env(settings, SANDBOX_URL=served.sandbox_url, PUBLIC_BASE_URL=served.public_base_url,
                          SECRET_KEY=served.secret_key.get_secret_value())
        ran = await asyncio.to_thread(gateway, "mpesa", "paybill", "--contest", seed.KENYA_DEMO_SLUG, "--account",
                                      "99", "--amount", "50", "--phone", "0712000102", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "refused before any money moved" in ran.stdout and "C2B00012" in ran.stdout


async def test_the_candidate_page_tells_voters_the_paybill_in_their_language(clean: None, settings: Settings,
                                                                              sessions: Sessions) -> None:
    await seed_demos(sessions)
    async with TestServer(create_sandbox_app(SandboxControl())) as sandbox, app_beside(sandbox, settings) as client:
        english = await (await client.get(f"/c/{seed.KENYA_DEMO_SLUG}/03?lang=en")).text()
        swahili = await (await client.get(f"/c/{seed.KENYA_DEMO_SLUG}/03?lang=sw")).text()
        other = await (await client.get(f"/c/{seed.DEMO_SLUG}/03?lang=en")).text()
    assert f"Lipa na M-Pesa: Paybill {KENYA_DEMO_PAYBILL}, account 03" in english
    assert f"Lipa na M-Pesa: Paybill {KENYA_DEMO_PAYBILL}, akaunti 03" in swahili
    assert "Lipa na M-Pesa" not in other  # the main demo takes no M-Pesa
