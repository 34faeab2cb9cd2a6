"""`POST /ussd/africastalking` and its events route, fed real Africa's Talking-shaped forms, against
real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from assembly.app import create_app
from assembly.demo import seed_demo
from assembly.settings import Environment, Settings
from channels.ussd.texts import UNKNOWN_SERVICE
from gateway.core.orders import counting, placing
from gateway.db.engine import Sessions
from gateway.db.models import (
    BlockedMsisdn,
    Candidate,
    Contest,
    ContestStatus,
    OrderStatus,
    UssdSessionEvent,
    VoteOrder,
    VoterPreference,
)
from gateway.kit.keys import STARTS
from gateway.kit.throttle import UNTIED_LIMIT
from payments.sandbox.control import SandboxControl
from payments.sandbox.mtn import MTN, MtnState, create_mtn_sandbox
from payments.sandbox.orange import create_orange_sandbox
from payments.sandbox.orange.state import ORANGE, OrangeState
from tests.channel_names import Channel
from tests.factories import count_orders, make_contest
from tests.servers import inside_one_window

DEMO_CODE = "*384*123#"
MTN_NUMBER = "+237670000001"
ORANGE_NUMBER = "+237690000001"
HOME_FR = "CON Demo Star 2026\n1 Voter\n2 Top 5\n3 Mes votes\n4 Langue/Language"


def form(text: str, session_id: str = "ATUid_1", msisdn: str = MTN_NUMBER, code: str = DEMO_CODE) -> dict[str, str]:
    return {"sessionId": session_id, "serviceCode": code, "phoneNumber": msisdn, "networkCode": "62401",
            "text": text}


async def hop(client: TestClient, text: str, **fields: str) -> str:
    response = await client.post("/ussd/africastalking", data=form(text, **fields))
    assert response.status == 200 and response.content_type == "text/plain", await response.text()
    body = await response.text()
    assert body.startswith(("CON ", "END ")) and len(body) <= 160
    return body


def prefixes(path: str) -> Iterator[str]:
    """What AT sends hop by hop for a path: "", "1", "1*07", …"""
    parts = path.split("*")
    yield ""
    for end in range(1, len(parts) + 1):
        yield "*".join(parts[:end])


async def dial(client: TestClient, path: str, **fields: str) -> list[str]:
    return [await hop(client, text, **fields) for text in prefixes(path)]


async def orders(sessions: Sessions) -> list[VoteOrder]:
    async with sessions() as session:
        return list(await session.scalars(select(VoteOrder).order_by(VoteOrder.created_at)))


@dataclass
class Phones:
    """The payment prompts the MTN and Orange sandboxes were asked to push, by payer number."""

    mtn: MtnState
    orange: OrangeState

    def prompted(self) -> list[str]:
        numbers = [c.request.payer.partyId for c in self.mtn.collections.values()]
        numbers += [p.order.subscriberMsisdn for p in self.orange.mp_payments.values() if p.order]
        return sorted(numbers)


@pytest.fixture
async def phones() -> AsyncIterator[tuple[Phones, str]]:
    control = SandboxControl(success_delay=3600)  # nobody approves during these tests
    mtn, orange = create_mtn_sandbox(control), create_orange_sandbox(control)
    sandbox = web.Application()
    sandbox.add_subapp("/mtn", mtn)
    sandbox.add_subapp("/orange", orange)
    async with TestServer(sandbox) as server:
        yield Phones(mtn[MTN], orange[ORANGE]), str(server.make_url("")).rstrip("/")


def phone_app(settings: Settings, phones: tuple[Phones, str], **changes: object) -> web.Application:
    """The app paying through the sandboxes of `phones`; its prompts go out 0.01 s after the reply, unless
    `ussd_push_delay_seconds` says otherwise."""
    return create_app(settings.model_copy(update={"sandbox_url": phones[1], "ussd_push_delay_seconds": 0.01,
                                                  **changes}))


@pytest.fixture
async def client(clean: None, settings: Settings, phones: tuple[Phones, str]) -> AsyncIterator[TestClient]:
    """The app with the provider sandboxes on localhost: a confirmed vote really pushes a prompt."""
    app = phone_app(settings, phones)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def prompted(client: TestClient, phones: tuple[Phones, str]) -> list[str]:
    """Payer numbers that got a payment prompt, once the pushes owed after the replies are done."""
    await client.app[STARTS].wait_idle()
    return phones[0].prompted()


@pytest.fixture
async def demo(sessions: Sessions) -> Contest:
    contest = await seed_demo(sessions)
    async with sessions.begin() as session:  # the seeded per-number limits are tested on their own
        await session.execute(update(Contest).values(max_orders_per_minute=0, max_orders_per_day=0))
    return contest


# The vote path.

async def test_the_full_path_places_one_pending_ussd_order_and_queues_its_push(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    screens = await dial(client, "1*07*5*1*1", msisdn="237670000001")
    assert screens[0] == HOME_FR
    assert screens[1].startswith("CON Entrez le code du candidat:\n01 Amina Bello")
    assert screens[2].startswith("CON 07 Grace Ndongo\nPrix: 100 XAF/vote")
    assert screens[3].startswith("CON 5 vote(s) = 500 XAF\nPayer avec:\n1 MTN MoMo (votre reseau)\n2 Orange Money")
    assert screens[4].startswith("CON Confirmez votre vote:\n5 vote(s) pour 07 Grace Ndongo\nTotal: 500 XAF")
    [order] = await orders(sessions)
    assert screens[5] == ("END Merci! Validez le paiement de 500 XAF sur votre telephone (MTN MoMo) pour compter "
                          f"vos 5 vote(s). Ref {order.id.hex[:8].upper()}")
    assert (order.channel, order.voter_msisdn, order.provider, order.quantity, order.amount, order.currency) == (
        Channel.USSD, MTN_NUMBER, "mtn", 5, 500, "XAF")
    assert order.status is OrderStatus.PENDING
    assert (await placing.find_by_client_key(sessions, "ussd:ATUid_1", MTN_NUMBER)).id == order.id  # type: ignore[union-attr]
    assert order.payment_started_at is None  # the prompt goes out after the reply, never before
    assert await prompted(client, phones) == ["237670000001"]


async def test_orange_is_pushed_for_an_orange_number(client: TestClient, demo: Contest, sessions: Sessions,
                                                     phones: tuple[Phones, str]) -> None:
    screens = await dial(client, "1*07*2*2*1", msisdn=ORANGE_NUMBER)
    assert "1 MTN MoMo\n2 Orange Money (votre reseau)" in screens[3]
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
    assert await hop(client, "1*99*abc*") == ("END Trop d'erreurs. Recomposez *384*123# pour reessayer. "
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
    assert await hop(client, "2", session_id="ATUid_3") == "CON Top 5 - Demo Star 2026\n1.07 Grace Ndongo 5\n" \
                                                          "0 Retour 00 Accueil"
    assert await hop(client, "3", session_id="ATUid_4") == (
        "CON Mes votes: 5 compte(s)\n1 paiement(s) en attente\n03 Chantal Mbarga x2 en attente\n"
        "07 Grace Ndongo x5 compte\n0 Retour 00 Accueil")
    assert await hop(client, "3", session_id="ATUid_5", msisdn=ORANGE_NUMBER) == \
        "CON Aucun vote depuis ce numero.\n0 Retour 00 Accueil"


async def test_tied_candidates_share_a_rank_on_the_ussd_top_screen_as_on_the_board(
        client: TestClient, demo: Contest, sessions: Sessions) -> None:
    for number, (session_id, path) in enumerate((("ATUid_1", "1*07*2*1*1"), ("ATUid_2", "1*03*2*1*1")), start=1):
        await dial(client, path, session_id=session_id, msisdn=f"+23767000000{number}")
    for order in await orders(sessions):
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", 200, "XAF", f"txn-{order.id}",
                                       provider=order.provider)
    board = await (await client.get(f"/api/v1/contests/{demo.slug}/leaderboard")).json()
    assert [(row["code"], row["votes"], row["rank"]) for row in board["candidates"][:3]] == [
        ("03", 2, 1), ("07", 2, 1), ("01", 0, 3)]
    assert await hop(client, "2", session_id="ATUid_3") == (
        "CON Top 5 - Demo Star 2026\n1.03 Chantal Mbarga 2\n1.07 Grace Ndongo 2\n0 Retour 00 Accueil")


# Service codes and contest states.

async def test_an_unknown_service_code_ends_with_a_message(client: TestClient, demo: Contest,
                                                           sessions: Sessions) -> None:
    assert await hop(client, "", code="*999*1#") == f"END {UNKNOWN_SERVICE}"
    assert await count_orders(sessions) == 0


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"status": ContestStatus.CLOSED}, "END Les votes pour Test Contest sont clos. Merci!"),
    ({"status": ContestStatus.PAUSED}, "END Les votes pour Test Contest sont suspendus. Reessayez plus tard."),
    ({"opens_at": datetime.now(UTC) + timedelta(hours=1)},
     "END Les votes pour Test Contest ne sont pas encore ouverts."),
])
async def test_a_contest_not_open_ends_at_once(client: TestClient, sessions: Sessions,
                                               overrides: dict[str, object], expected: str) -> None:
    await make_contest(sessions, ussd_service_codes=["*384*7#"], **overrides)
    assert await hop(client, "", code="*384*7#") == expected
    assert await hop(client, "1*01*1*1*1", code="*384*7#") == expected
    assert await count_orders(sessions) == 0


async def test_a_draft_contest_is_unknown(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, ussd_service_codes=["*384*7#"], status=ContestStatus.DRAFT)
    assert await hop(client, "", code="*384*7#") == f"END {UNKNOWN_SERVICE}"


async def test_a_shared_code_lists_its_open_contests(client: TestClient, sessions: Sessions) -> None:
    now = datetime.now(UTC)
    await make_contest(sessions, name="Miss Cameroun", ussd_service_codes=["*384*5#"],
                       closes_at=now + timedelta(days=1))
    star = await make_contest(sessions, name="Star Académie ✨", ussd_service_codes=["*384*6#", "*384*5#"],
                              closes_at=now + timedelta(days=2), default_language="en")
    await make_contest(sessions, name="Old Show", ussd_service_codes=["*384*5#"], status=ContestStatus.CLOSED)
    assert await hop(client, "", code="*384*5#") == "CON Choisissez un concours:\n1 Miss Cameroun\n2 Star Academie"
    screens = await dial(client, "2*1*03*4*1*1", code="*384*5#")
    assert screens[1] == "CON Star Academie\n1 Vote\n2 Top 5\n3 My votes\n4 Language/Langue\n0 Back"
    assert screens[-1].startswith("END Thank you! Approve the payment of 400 XAF")
    [order] = await orders(sessions)
    assert order.contest_id == star.id and order.quantity == 4


async def test_a_contest_closing_mid_session_refuses_the_vote(client: TestClient, sessions: Sessions,
                                                              redis: Redis) -> None:
    contest = await make_contest(sessions, ussd_service_codes=["*384*7#"])
    await dial(client, "1*01*1*1", code="*384*7#")
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status=ContestStatus.CLOSED))
    assert await hop(client, "1*01*1*1*1", code="*384*7#") == "END Les votes pour Test Contest sont clos. Merci!"
    assert await count_orders(sessions) == 0


# Abuse limits and blocked numbers.

async def test_a_blocked_number_is_told_at_once(client: TestClient, demo: Contest, sessions: Sessions) -> None:
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn=MTN_NUMBER, reason="chargebacks"))
    blocked = "END Ce numero ne peut pas voter. Contactez l'organisateur si c'est une erreur."
    assert await hop(client, "") == blocked
    assert await count_orders(sessions) == 0


async def test_a_number_blocked_during_its_session_cannot_confirm(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    await dial(client, "1*07*5*1")
    async with sessions.begin() as session:
        session.add(BlockedMsisdn(msisdn=MTN_NUMBER))
    assert (await hop(client, "1*07*5*1*1")).startswith("END Ce numero ne peut pas voter.")
    assert await count_orders(sessions) == 0 and await prompted(client, phones) == []


@pytest.mark.parametrize("limit", ["max_orders_per_minute", "max_orders_per_day"])
async def test_per_number_limits_end_with_a_clear_message(client: TestClient, sessions: Sessions,
                                                          phones: tuple[Phones, str], limit: str) -> None:
    await make_contest(sessions, ussd_service_codes=["*384*7#"], **{limit: 1})
    first = await dial(client, "1*01*1*1*1", code="*384*7#")
    assert first[-1].startswith("END Merci!")
    second = await dial(client, "1*02*3*1*1", code="*384*7#", session_id="ATUid_2")
    assert second[-1] == "END Limite de votes atteinte pour ce numero. Reessayez plus tard."
    other = await dial(client, "1*02*3*1*1", code="*384*7#", session_id="ATUid_3", msisdn="+237670000002")
    assert other[-1].startswith("END Merci!")
    assert await count_orders(sessions) == 2
    assert await prompted(client, phones) == ["237670000001", "237670000002"]


# Malformed forms.

@pytest.mark.parametrize("missing", ["sessionId", "serviceCode", "phoneNumber", "text"])
async def test_a_form_missing_a_field_is_refused_and_creates_nothing(
        client: TestClient, demo: Contest, sessions: Sessions, redis: Redis, missing: str) -> None:
    await redis.flushdb()
    data = {key: value for key, value in form("1*07*5*1*1").items() if key != missing}
    response = await client.post("/ussd/africastalking", data=data)
    assert response.status == 400
    assert (await response.json())["error"] == {"code": "invalid_form", "message": f"{missing} is required.",
                                                "field": missing}
    assert await count_orders(sessions) == 0 and await redis.keys("*") == []


@pytest.mark.parametrize("data", [
    form("", msisdn="hello"), form("", msisdn="+1"), form("", session_id="has space"),
    form("1" * 1001), form("", code="*" * 40),
])
async def test_invalid_fields_are_refused(client: TestClient, demo: Contest, sessions: Sessions, redis: Redis,
                                          data: dict[str, str]) -> None:
    await redis.flushdb()
    response = await client.post("/ussd/africastalking", data=data)
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_form"
    assert await count_orders(sessions) == 0 and await redis.keys("*") == []


async def test_a_json_body_is_not_an_at_form(client: TestClient, demo: Contest, sessions: Sessions) -> None:
    response = await client.post("/ussd/africastalking", json=form("1*07*5*1*1"))
    assert response.status == 400
    assert await count_orders(sessions) == 0


async def test_a_database_outage_ends_the_session_politely(settings: Settings, redis: Redis) -> None:
    """An HTTP error would cut the caller off without a word: every failure after validation is an END."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"postgresql://nobody@127.0.0.1:{sock.getsockname()[1]}/nothing"
    async with TestClient(TestServer(create_app(settings.model_copy(update={"database_url": dead})))) as down:
        response = await down.post("/ussd/africastalking", data=form(""))
        assert response.status == 200
        assert await response.text() == "END Service momentanement indisponible. Reessayez dans un instant."


async def test_without_redis_the_menu_answers_from_the_path_and_the_vote_is_placed_once(
        settings: Settings, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    """Redis away (restarting): no session record, no claim, yet the caller can vote; Africa's
    Talking resending the last hop gets the same order (its client_key is the session id)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    app = phone_app(settings, phones, redis_url=dead)
    async with TestClient(TestServer(app)) as down:
        assert await (await down.post("/ussd/africastalking", data=form(""))).text() == HOME_FR
        quantity = await (await down.post("/ussd/africastalking", data=form("1*07"))).text()
        assert quantity.startswith("CON 07 Grace Ndongo")
        finals = [await (await down.post("/ussd/africastalking", data=form("1*07*5*1*1"))).text() for _ in range(2)]
        assert finals[0].startswith("END Merci!") and finals[1] == finals[0]
        assert await prompted(down, phones) == ["237670000001"]
    [order] = await orders(sessions)
    assert order.quantity == 5 and order.channel == Channel.USSD


async def test_a_session_id_cannot_be_reused_by_another_number(client: TestClient, demo: Contest,
                                                               sessions: Sessions) -> None:
    await dial(client, "1*07*5*1")
    response = await client.post("/ussd/africastalking", data=form("1*07*5*1*1", msisdn=ORANGE_NUMBER))
    assert response.status == 400 and (await response.json())["error"]["field"] == "sessionId"
    assert await count_orders(sessions) == 0


# End-of-session notifications.

def event(status: str, session_id: str = "ATUid_1", **extra: str) -> dict[str, str]:
    return {"sessionId": session_id, "serviceCode": DEMO_CODE, "networkCode": "62401", "phoneNumber": MTN_NUMBER,
            "status": status, "cost": "XAF 0", "durationInMillis": "41000", "hopsCount": "6",
            "input": "1*07*5*1*1", "lastAppResponse": "END Merci!", "errorMessage": "", "date": "2026-11-21 12:00:00",
            **extra}


async def stored_events(sessions: Sessions) -> list[UssdSessionEvent]:
    async with sessions() as session:
        return list(await session.scalars(select(UssdSessionEvent).order_by(UssdSessionEvent.id)))


@pytest.mark.parametrize("status", ["Incomplete", "Failed"])
async def test_an_unfinished_session_cancels_its_unstarted_order(settings: Settings, phones: tuple[Phones, str],
                                                                 demo: Contest, sessions: Sessions,
                                                                 status: str) -> None:
    app = phone_app(settings, phones, ussd_push_delay_seconds=5.0)  # AT's notice comes before the push is tried
    async with TestClient(TestServer(app)) as client:
        await dial(client, "1*07*5*1*1")
        response = await client.post("/ussd/africastalking/events", data=event(status, errorMessage="timeout"))
        assert response.status == 200
        [order] = await orders(sessions)
        assert order.status is OrderStatus.FAILED and status in (order.status_reason or "")
        [stored] = await stored_events(sessions)
        assert (stored.session_id, stored.status, stored.msisdn) == ("ATUid_1", status, MTN_NUMBER)
        assert stored.payload["errorMessage"] == "timeout" and stored.payload["hopsCount"] == "6"


async def test_notifications_never_cancel_a_started_or_successful_payment(client: TestClient, demo: Contest,
                                                                          sessions: Sessions) -> None:
    await dial(client, "1*07*5*1*1")
    assert (await client.post("/ussd/africastalking/events", data=event("Success"))).status == 200
    [order] = await orders(sessions)
    assert order.status is OrderStatus.PENDING
    async with sessions.begin() as session:
        await session.execute(update(VoteOrder).values(payment_started_at=datetime.now(UTC)))
    for status in ("Failed", "Incomplete", "Failed"):  # duplicates are kept too
        assert (await client.post("/ussd/africastalking/events", data=event(status))).status == 200
    [order] = await orders(sessions)
    assert order.status is OrderStatus.PENDING
    assert [e.status for e in await stored_events(sessions)] == ["Success", "Failed", "Incomplete", "Failed"]


async def test_notifications_without_an_order_are_stored(client: TestClient, sessions: Sessions) -> None:
    await client.post("/ussd/africastalking/events", data=event("Incomplete", session_id="ATUid_9",
                                                                 phoneNumber="not-a-number"))
    [stored] = await stored_events(sessions)
    assert stored.session_id == "ATUid_9" and stored.msisdn is None and stored.payload["phoneNumber"] == "not-a-number"


async def test_a_malformed_notification_is_refused(client: TestClient, sessions: Sessions) -> None:
    data = {key: value for key, value in event("Failed").items() if key != "sessionId"}
    response = await client.post("/ussd/africastalking/events", data=data)
    assert response.status == 400
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(UssdSessionEvent)) == 0


async def test_past_the_limit_a_notification_about_no_order_is_refused_but_one_about_an_order_is_kept(
        settings: Settings, phones: tuple[Phones, str], demo: Contest, sessions: Sessions) -> None:
    """Without a callback token (development) anyone can post notifications: those naming no session
    that placed an order count against the address's limit; a session's own is always taken."""
    app = phone_app(settings, phones, ussd_push_delay_seconds=60.0)  # AT's notice comes before the push is tried
    async with TestClient(TestServer(app)) as client:
        await inside_one_window()
        await dial(client, "1*07*5*1*1")
        for n in range(UNTIED_LIMIT):
            response = await client.post("/ussd/africastalking/events", data=event("Failed", f"probe-{n}"))
            assert response.status == 200
        refused = await client.post("/ussd/africastalking/events", data=event("Failed", "probe-x", junk="j" * 30_000))
        assert refused.status == 429 and (await refused.json())["error"]["code"] == "rate_limited"
        assert len(await stored_events(sessions)) == UNTIED_LIMIT  # nothing kept of the refused one
        assert (await client.post("/ussd/africastalking/events", data=event("Failed"))).status == 200  # ATUid_1's
        [order] = await orders(sessions)
        assert order.status is OrderStatus.FAILED
        assert (await stored_events(sessions))[-1].session_id == "ATUid_1"


@pytest.fixture
async def guarded(clean: None, settings: Settings, phones: tuple[Phones, str]) -> AsyncIterator[TestClient]:
    """The app with a callback token, as production runs it."""
    app = phone_app(settings, phones, ussd_callback_token=SecretStr("t" * 24))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_with_a_callback_token_only_calls_carrying_it_are_served(
        guarded: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    """AT does not sign USSD callbacks: without the token anyone could push payment prompts to any number."""
    for query in ("", "?token=wrong", "?token=" + "t" * 23):
        for text in prefixes("1*07*5*1*1"):
            response = await guarded.post("/ussd/africastalking" + query, data=form(text))
            assert response.status == 403 and (await response.json())["error"]["code"] == "unknown_caller"
        events = await guarded.post("/ussd/africastalking/events" + query, data=event("Failed"))
        assert events.status == 403
    assert await count_orders(sessions) == 0 and await stored_events(sessions) == []
    for text in prefixes("1*07*5*1*1"):
        response = await guarded.post("/ussd/africastalking?token=" + "t" * 24, data=form(text))
        assert response.status == 200 and (await response.text()).startswith(("CON ", "END "))
    assert await prompted(guarded, phones) == ["237670000001"]


async def test_production_without_a_token_serves_no_ussd_even_for_a_contest_added_after_start(
        clean: None, settings: Settings, sessions: Sessions) -> None:
    production = settings.model_copy(update={"gateway_env": Environment.PRODUCTION,
                                             "secret_key": SecretStr("x4Vq9-LmT2rZ8bWn_K3sJ7dHf0Yc6GpE1uAoNiRt"),
                                             "public_base_url": "https://vote.example.org",
                                             "ussd_callback_token": None})
    async with TestClient(TestServer(create_app(production))) as client:  # no USSD contest yet: it starts
        await make_contest(sessions, slug="late", ussd_service_codes=["*384*777#"])
        response = await client.post("/ussd/africastalking", data=form("", code="*384*777#"))
        assert response.status == 403 and "USSD_CALLBACK_TOKEN" in (await response.json())["error"]["message"]
    assert await count_orders(sessions) == 0
