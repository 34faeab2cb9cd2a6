"""Bundles over USSD, through `POST /ussd/africastalking` against the MTN sandbox: the quantity screen lists the
contest's price tiers, typing a bundle's votes asks MTN for the bundle's amount, and any other number stays at the
price of a vote."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from gateway.db.engine import Sessions
from gateway.db.models import Contest
from tests.channels.ussd.sessions import (
    Phones,
    dial,
    orders,
    phone_client,  # noqa: F401 (the fixture `client`)
    prompted,
)

TIERS = [{"votes": 1, "amount": 100}, {"votes": 10, "amount": 900}, {"votes": 50, "amount": 4000}]


async def with_tiers(sessions: Sessions, contest: Contest, tiers: list[dict[str, int]]) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(price_tiers=tiers))


def asked_of_mtn(phones: tuple[Phones, str]) -> list[str]:
    return [collection.request.amount for collection in phones[0].mtn.collections.values()]


async def test_the_quantity_screen_lists_the_bundles_and_a_bundle_is_charged_its_amount(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    await with_tiers(sessions, demo, TIERS)
    screens = await dial(client, "1*07*10*1*1", msisdn="237670000001")
    assert screens[2] == ("CON 07 Grace Ndongo\nPrix: 100 FCFA/vote\n1 vote: 100 FCFA\n10 votes: 900 FCFA\n"
                          "50 votes: 4 000 FCFA\nNombre de votes (1-100) ?\n0 Retour 00 Accueil")
    assert screens[3].startswith("CON 10 votes = 900 FCFA\nPayer avec:")
    assert "Total: 900 FCFA" in screens[4]
    assert screens[5].startswith("END Merci! Validez le paiement de 900 FCFA")
    [order] = await orders(sessions)
    assert (order.quantity, order.amount, order.currency) == (10, 900, "XAF")
    assert await prompted(client, phones) == ["237670000001"]
    assert asked_of_mtn(phones) == ["900"]


async def test_another_number_is_still_typed_and_priced_per_vote(
        client: TestClient, demo: Contest, sessions: Sessions, phones: tuple[Phones, str]) -> None:
    await with_tiers(sessions, demo, TIERS)
    screens = await dial(client, "1*07*3*1*1", msisdn="237670000001")
    assert screens[3].startswith("CON 3 votes = 300 FCFA")
    [order] = await orders(sessions)
    assert (order.quantity, order.amount) == (3, 300)
    await prompted(client, phones)
    assert asked_of_mtn(phones) == ["300"]


async def test_five_bundles_still_fit_one_screen_written_short(
        client: TestClient, demo: Contest, sessions: Sessions) -> None:
    await with_tiers(sessions, demo, [{"votes": 1, "amount": 100}, {"votes": 5, "amount": 450},
                                      {"votes": 10, "amount": 900}, {"votes": 50, "amount": 4000},
                                      {"votes": 100, "amount": 7500}])
    screens = await dial(client, "1*07", msisdn="237670000001")
    quantity = screens[2]
    assert len(quantity) <= 160
    for shown in ("100 FCFA", "450 FCFA", "900 FCFA", "4 000 FCFA", "7 500 FCFA"):
        assert shown in quantity
    assert "(1-100)" in quantity and "=4 000 FCFA" in quantity  # written short to fit


async def test_a_wrong_answer_re_asks_with_the_bundles_still_on_one_screen(
        client: TestClient, demo: Contest, sessions: Sessions) -> None:
    await with_tiers(sessions, demo, [{"votes": 1, "amount": 100}, {"votes": 5, "amount": 450},
                                      {"votes": 10, "amount": 900}, {"votes": 50, "amount": 4000},
                                      {"votes": 100, "amount": 7500}])
    screens = await dial(client, "1*07*abc")
    assert screens[3].startswith("CON Tapez un nombre.\n07 Grace")  # the name clipped to make room
    assert "50=4 000 FCFA" in screens[3] and len(screens[3]) <= 160
