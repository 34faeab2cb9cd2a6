"""`POST /ussd/africastalking` fed real Africa's Talking-shaped forms, against real PostgreSQL and Redis, along
the vote path: one pending order and its push (MTN or Orange) however the final hit is replayed or the session
record lost; paging, wrong answers, the language remembered per number, Top 5, My votes and shared ranks."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import update

from gateway.core.orders import counting, placing
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, OrderStatus, VoterPreference
from tests.channel_names import Channel
from tests.channels.ussd.menus import HOME_FR
from tests.channels.ussd.sessions import (
    DEMO_CODE,
    MTN_NUMBER,
    ORANGE_NUMBER,
    Phones,
    dial,
    hop,
    orders,
    phone_client,  # noqa: F401 (the fixture `client`)
    prompted,
)
from tests.factories import count_orders


async def test_the_full_path_places_one_pending_ussd_order_and_queues_its_push(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    screens = await dial(client, "1*07*5*1*1", msisdn="237670000001")
    assert screens[0] == HOME_FR
    assert screens[1].startswith("CON Entrez le code du candidat:\n01 Amina Bello")
    assert screens[2].startswith("CON 07 Grace Ndongo\nPrix: 100 FCFA/vote")
    assert screens[3].startswith("CON 5 votes = 500 FCFA\nPayer avec:\n1 MTN MoMo (votre réseau)\n2 Orange Money")
    assert screens[4].startswith("CON Confirmez votre vote:\n5 votes pour 07 Grace Ndongo\nTotal: 500 FCFA")
    [order] = await orders(sessions)
    assert screens[5] == ("END Merci! Validez le paiement de 500 FCFA sur votre téléphone (MTN MoMo) pour compter "
                          f"vos 5 votes. Ref {order.id.hex[:8].upper()}")
    assert (order.channel, order.voter_msisdn, order.provider, order.quantity, order.amount, order.currency) == (
        Channel.USSD, MTN_NUMBER, "mtn", 5, 500, "XAF")
    assert order.status is OrderStatus.PENDING
    assert (await placing.find_by_client_key(sessions, "ussd:ATUid_1", MTN_NUMBER)).id == order.id  # type: ignore[union-attr]
    assert order.payment_started_at is None  # the prompt goes out after the reply, never before
    assert await prompted(client, phones) == ["237670000001"]


async def test_orange_is_pushed_for_an_orange_number(client: TestClient, demo: Contest, sessions: Sessions,
                                                     phones: tuple[Phones, str]) -> None:
    screens = await dial(client, "1*07*2*2*1", msisdn=ORANGE_NUMBER)
    assert "1 MTN MoMo\n2 Orange Money (votre réseau)" in screens[3]
    assert "(Orange Money)" in screens[5]
    [order] = await orders(sessions)
    assert (order.provider, order.quantity, order.voter_msisdn) == ("orange", 2, ORANGE_NUMBER)
    assert await prompted(client, phones) == ["690000001"]  # Orange's API takes local numbers


async def test_a_replayed_final_hit_gives_the_same_screen_one_order_one_push(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    screens = await dial(client, "1*07*5*1*1")
    assert await hop(client, "1*07*5*1*1") == screens[-1]
    assert await hop(client, "1*07*5*1") == screens[-2]
    assert len(await orders(sessions)) == 1
    assert await prompted(client, phones) == ["237670000001"]


async def test_concurrent_replays_of_the_final_hit_make_one_order(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    await dial(client, "1*07*5*1")
    bodies = await asyncio.gather(*(hop(client, "1*07*5*1*1") for _ in range(8)))
    assert len(set(bodies)) == 1 and bodies[0].startswith("END Merci!")
    assert len(await orders(sessions)) == 1
    assert await prompted(client, phones) == ["237670000001"]


async def test_a_replay_gets_the_screen_it_got_first(client: TestClient, demo: Contest, sessions: Sessions,
                                                     redis: Redis) -> None:
    first = await hop(client, "1*07")
    async with sessions.begin() as session:
        await session.execute(update(Candidate).where(Candidate.code == "07").values(name="Renamed"))
    await redis.delete(f"ussd:code:{DEMO_CODE}")
    assert await hop(client, "1*07") == first
    assert "Renamed" in await hop(client, "1*07", session_id="ATUid_2")


async def test_a_lost_session_record_still_gives_the_right_screens(
        client: TestClient, demo: Contest, sessions: Sessions, redis: Redis, phones: tuple[Phones, str]) -> None:
    screens = await dial(client, "1*07*5*1")
    await redis.flushdb()
    assert await hop(client, "1*07") == screens[2]
    await redis.flushdb()
    final = await hop(client, "1*07*5*1*1")
    [order] = await orders(sessions)
    assert final.startswith("END Merci!") and order.quantity == 5
    assert await prompted(client, phones) == ["237670000001"]


async def test_paging_and_navigation(client: TestClient, demo: Contest) -> None:
    assert (await hop(client, "1*98")).startswith("CON Entrez le code du candidat:\n05 Esther Fotso")
    assert await hop(client, "1*98*0") == await hop(client, "1")
    assert await hop(client, "1*07*5*00") == HOME_FR


async def test_three_wrong_answers_end_politely(client: TestClient, demo: Contest, sessions: Sessions) -> None:
    assert (await hop(client, "1*99")).startswith("CON Code 99 inconnu.\nEntrez le code du candidat:")
    assert (await hop(client, "1*99*abc")).startswith("CON Tapez le code en chiffres.")
    assert await hop(client, "1*99*abc*") == ("END Trop d'erreurs. Recomposez *384*123# pour réessayer. "
                                              "A bientot!")
    assert await count_orders(sessions) == 0


async def test_wrong_quantities_are_asked_again(client: TestClient, demo: Contest) -> None:
    for text, reason in (("1*07*000", "Minimum 1 vote."), ("1*07*101", "Maximum 100 votes."),
                         ("1*07*cinq", "Tapez un nombre."), ("1*07*", "Vous n'avez rien saisi.")):
        assert (await hop(client, text)).startswith(f"CON {reason}\n07 Grace Ndongo")


async def test_the_language_is_remembered_per_number(client: TestClient, demo: Contest, sessions: Sessions) -> None:
    assert (await hop(client, "4*2")).startswith("CON Demo Star 2026\n1 Vote\n2 Top 5\n3 My votes")
    async with sessions() as session:
        assert (await session.get(VoterPreference, MTN_NUMBER)).language == "en"  # type: ignore[union-attr]
    assert (await hop(client, "", session_id="ATUid_2")).startswith("CON Demo Star 2026\n1 Vote")
    assert (await hop(client, "", session_id="ATUid_3", msisdn=ORANGE_NUMBER)) == HOME_FR


async def test_top_five_and_my_votes(client: TestClient, demo: Contest, sessions: Sessions) -> None:
    await dial(client, "1*07*5*1*1")
    [order] = await orders(sessions)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 500, "XAF", "txn-1", provider=order.provider)
    await dial(client, "1*03*2*1*1", session_id="ATUid_2")
    assert await hop(client, "2", session_id="ATUid_3") == "CON Top 5 - Demo Star 2026\n1. 07 Grace Ndongo: 5\n" \
                                                          "0 Retour 00 Accueil"
    assert await hop(client, "3", session_id="ATUid_4") == (
        "CON Mes votes: 5 comptés\n1 paiement en attente\n03 Chantal Mbarga x2 en attente\n"
        "07 Grace Ndongo x5 compté\n0 Retour 00 Accueil")
    assert await hop(client, "3", session_id="ATUid_5", msisdn=ORANGE_NUMBER) == \
        "CON Aucun vote depuis ce numéro.\n0 Retour 00 Accueil"


async def test_tied_candidates_share_a_rank_on_the_ussd_top_screen_as_on_the_board(
        client: TestClient, demo: Contest, sessions: Sessions) -> None:
    for number, (session_id, path) in enumerate((("ATUid_1", "1*07*2*1*1"), ("ATUid_2", "1*03*2*1*1")), start=1):
        await dial(client, path, session_id=session_id, msisdn=f"+23767000000{number}")
    for order in await orders(sessions):
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 200, "XAF", f"txn-{order.id}",
                                       provider=order.provider)
    for _ in range(100):  # the board is refreshed from the counts a moment later (the outbox's relay)
        board = await (await client.get(f"/api/v1/contests/{demo.slug}/leaderboard")).json()
        if sum(row["votes"] for row in board["candidates"]) == 4:
            break
        await asyncio.sleep(0.05)
    assert [(row["code"], row["votes"], row["rank"]) for row in board["candidates"][:3]] == [
        ("03", 2, 1), ("07", 2, 1), ("01", 0, 3)]
    assert await hop(client, "2", session_id="ATUid_3") == (
        "CON Top 5 - Demo Star 2026\n1. 03 Chantal Mbarga: 2\n1. 07 Grace Ndongo: 2\n0 Retour 00 Accueil")
