"""Free votes over USSD: the session's number is the proof; the home menu offers "5" while the number has a free vote
left today, the vote is taken at once (no order, no prompt), a second is refused, a blocked number gets nothing."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlalchemy import event, func, select, update

from assembly.settings import Settings
from assembly.web.keys import ENGINE, STARTS
from channels.ussd.session import contests_key
from gateway.core.audit import Actor
from gateway.core.results import ledger
from gateway.core.voters import blocklist
from gateway.db.engine import Sessions
from gateway.db.models import Contest, FreeVote
from tests.channels.ussd.menus import HOME_FR
from tests.channels.ussd.sessions import (
    MTN_NUMBER,
    Phones,
    dial,
    hop,
    orders,
    phone_app,
    phone_client,  # noqa: F401 (the fixture `client`)
    prompted,
)
from tests.network import postgres_relay

HOME_FREE_FR = HOME_FR + "\n5 Vote gratuit"
TAKEN_FR = ("END Merci! Votre vote gratuit pour 07 Grace Ndongo est compté. Il vous reste 0 vote gratuit "
            "aujourd'hui.")
USED_FR = "END Ce numéro a déjà pris ses votes gratuits aujourd'hui. Revenez demain, ou votez par mobile money."


async def give_free_votes(sessions: Sessions, contest: Contest, per_day: int = 1) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(free_votes_per_day=per_day))


async def free_votes(sessions: Sessions) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.execute(select(FreeVote.msisdn, FreeVote.channel, FreeVote.period))
        return [(msisdn, channel, period.split(":")[0]) for msisdn, channel, period in rows]


async def test_a_number_takes_its_free_vote_from_the_menu_and_no_second(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    await give_free_votes(sessions, demo)
    screens = await dial(client, "5*07", msisdn="237670000001")
    assert screens[0] == HOME_FREE_FR
    assert screens[1].startswith("CON Entrez le code du candidat:\n01 Amina Bello")
    assert screens[2] == TAKEN_FR
    assert await free_votes(sessions) == [(MTN_NUMBER, "ussd", "day")]
    assert await orders(sessions) == [] and await prompted(client, phones) == []  # no order, no provider called
    assert (await ledger.verify(sessions, demo.id)).clean
    # The next session of the number: no free vote left today, so no "5" on the menu; a "5" typed all the same is
    # told why when it picks a candidate.
    again = await dial(client, "5*07", session_id="ATUid_2", msisdn="237670000001")
    assert again[0] == HOME_FR
    assert again[2] == USED_FR
    assert len(await free_votes(sessions)) == 1


async def test_two_sessions_of_one_number_take_one_free_vote(client: TestClient, demo: Contest,
                                                              sessions: Sessions) -> None:
    await give_free_votes(sessions, demo)
    for session_id in ("ATUid_a", "ATUid_b"):
        await dial(client, "5", session_id=session_id)  # both reach the candidates while the vote is still there
    endings = await asyncio.gather(hop(client, "5*07", session_id="ATUid_a"), hop(client, "5*07", session_id="ATUid_b"))
    assert sorted(endings) == sorted([TAKEN_FR, USED_FR])
    assert len(await free_votes(sessions)) == 1



async def test_a_session_answered_after_another_took_the_free_vote_is_told_why(
        client: TestClient, demo: Contest, sessions: Sessions) -> None:
    """AT sends the whole path on every hop: the second session's "5", chosen while the vote was there, is walked
    again once it is gone, and must not turn into a wrong answer on the home menu."""
    await give_free_votes(sessions, demo)
    for session_id in ("ATUid_a", "ATUid_b"):
        assert (await dial(client, "5", session_id=session_id))[1].startswith("CON Entrez le code du candidat")
    assert await hop(client, "5*07", session_id="ATUid_a") == TAKEN_FR
    assert await hop(client, "5*07", session_id="ATUid_b") == USED_FR
    assert len(await free_votes(sessions)) == 1

async def test_a_number_blocked_during_its_session_is_refused_and_nothing_is_recorded(
        client: TestClient, demo: Contest, sessions: Sessions) -> None:
    await give_free_votes(sessions, demo)
    await dial(client, "5")
    await blocklist.block_number(sessions, Actor(admin_id=None, email="o@example.org", role="owner"), MTN_NUMBER, None)
    ending = await hop(client, "5*07")
    assert ending == "END Ce numéro ne peut pas voter. Contactez l'organisateur si c'est une erreur."
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(FreeVote)) == 0


async def test_a_contest_without_free_votes_offers_none(client: TestClient, demo: Contest) -> None:
    screens = await dial(client, "5")
    assert screens[0] == HOME_FR and screens[1].startswith("CON Choix invalide")


async def test_a_session_on_contests_without_free_votes_never_looks_up_the_callers(
        client: TestClient, demo: Contest, sessions: Sessions, redis: Redis) -> None:
    """On show night every hop of every session asked the database for the caller's free votes, which a contest
    giving none has none of; one that gives some is asked about on every hop (one may be taken elsewhere)."""
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    async def free_vote_lookups(text: str, session_id: str) -> int:
        statements.clear()
        engine = client.app[ENGINE].sync_engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            await dial(client, text, session_id=session_id)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        return sum("free_votes_per_day >" in statement or "FROM free_votes" in statement for statement in statements)

    assert await free_vote_lookups("1*07", "ATUid_none") == 0  # three screens: home, candidates, quantity
    await give_free_votes(sessions, demo)
    await redis.delete(*[key async for key in redis.scan_iter(contests_key("*"))])  # the code's contests read anew
    assert await free_vote_lookups("5", "ATUid_some") >= 2


async def test_without_the_database_the_menu_still_answers_and_offers_no_free_vote(
        settings: Settings, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    await give_free_votes(sessions, demo)
    relay, url = await postgres_relay(settings.database_url or "")
    app = phone_app(settings, phones, database_url=url)
    try:
        async with TestClient(TestServer(app)) as client:
            assert await hop(client, "") == HOME_FREE_FR  # the contests and the caller read, then cached
            relay.refusing = True  # the database gone for a moment
            relay.cut_open_connections()
            language = await hop(client, "4")  # a screen the cached contests answer
            await app[STARTS].close(grace=0)
    finally:
        await relay.close()
    assert language.startswith("CON Langue / Language / Lugha:\n1 Francais"), language
