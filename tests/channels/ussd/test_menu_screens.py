"""The USSD menu as pure functions, (contest data, session, text path) -> screen, beside the vote path: the
language (chosen, remembered, the contest's default), a service code shared by several open contests, the endings
decided before the menu, Top 5 and My votes. No I/O here."""

from __future__ import annotations

from datetime import timedelta

import pytest

from channels.ussd.menu import Ending, MenuContext, parse_path, start, walk
from channels.ussd.screens import (
    Kind,
    PlaceOrder,
    blocked,
    placed,
    refusal,
    render,
    service_unavailable,
    unavailable_contest,
    unknown_service,
)
from channels.ussd.views import Extras, TopEntry
from gateway.core.contests.rules import VotingState
from gateway.core.providers import Approval
from gateway.core.texts import Lang
from gateway.core.voters.payer_numbers import PayerOrder, PayerVotes
from tests.channels.ussd.menus import (
    HOME_EN,
    HOME_FR,
    HOME_SW,
    MOBILE_MONEY_EAST,
    NOW,
    body,
    context,
    demo,
    screen,
    view,
)

# Language: chosen on the first screen, else remembered, else the contest's default.

def test_language_choice_switches_and_is_reported_once() -> None:
    ctx = context(demo())
    position = walk(ctx, parse_path("4*2"))
    assert position.chose_language and position.lang_choice is Lang.EN
    assert render(ctx, position).body == HOME_EN
    later = walk(ctx, parse_path("4*2*1"))
    assert not later.chose_language and render(ctx, later).text.startswith("Enter the candidate code:")
    assert body(ctx, "4*2*4*1") == HOME_FR
    assert body(ctx, "4*2*1*07*5*1*00") == HOME_EN


def test_language_comes_from_preference_then_contest_default() -> None:
    assert body(context(demo(), preference=Lang.EN), "") == HOME_EN
    assert body(context(view(default_language="en")), "") == HOME_EN
    assert body(context(view(default_language="en"), preference=Lang.FR), "") == HOME_FR
    assert body(context(view(default_language="xx")), "") == HOME_FR


def test_swahili_is_chosen_on_the_language_screen_or_is_the_contest_s_own() -> None:
    ctx = context(demo())
    assert body(ctx, "4") == "CON Langue / Language / Lugha:\n1 Francais\n2 English\n3 Kiswahili\n0 Retour"
    position = walk(ctx, parse_path("4*3"))
    assert position.chose_language and position.lang_choice is Lang.SW
    assert render(ctx, position).body == HOME_SW
    assert body(context(view(default_language="sw")), "") == HOME_SW
    assert body(context(view(default_language="sw"), preference=Lang.EN), "") == HOME_EN


def test_a_swahili_voter_pays_by_m_pesa_in_swahili() -> None:
    ctx = context(view(MOBILE_MONEY_EAST, currency="KES", price_per_vote=2000, providers=("mpesa", "airtel"),
                       default_language="sw"), operator="mpesa")
    assert body(ctx, "1*07") == "CON 07 Grace Ndongo\nBei: Ksh 20.00/kura\nKura ngapi (1-100)?\n0 Rudi 00 Mwanzo"
    assert body(ctx, "1*07*3") == ("CON Kura 3 = Ksh 60.00\nLipa kwa:\n1 M-Pesa (mtandao wako)\n2 Airtel Money\n"
                                   "0 Rudi 00 Mwanzo")
    assert body(ctx, "1*07*3*1") == ("CON Thibitisha kura yako:\nKura 3 kwa 07 Grace Ndongo\nJumla: Ksh 60.00\n"
                                     "Malipo: M-Pesa\n1 Thibitisha\n0 Rudi 00 Mwanzo")
    assert body(ctx, "1*07*300") == ("CON Upeo ni kura 100.\n07 Grace Ndongo\nBei: Ksh 20.00/kura\n"
                                     "Kura ngapi (1-100)?\n0 Rudi 00 Mwanzo")
    assert placed(Lang.SW, 3, 6000, "KES", "M-Pesa", "3F9A1C2B", Approval.PIN_PROMPT).body == (
        "END Asante! Weka PIN yako ya M-Pesa kwenye ombi kwenye simu yako ili kulipa Ksh 60.00 na kura 3 zihesabiwe. "
        "Kumb 3F9A1C2B")
    assert refusal(Lang.SW, "contest_closed", demo()).body == "END Upigaji kura wa Demo Star 2026 umefungwa. Asante!"


# A service code shared by several open contests.

def shared() -> MenuContext:
    first = view(slug="miss", name="Miss Cameroun 2026")
    second = view(slug="star", name="Star Academy", default_language="en",
                  candidates=(("11", "Paul Biya Jr"), ("12", "Samuel Eto")))
    return context(first, second)


def test_a_shared_code_lists_its_contests_first() -> None:
    ctx = shared()
    assert body(ctx, "") == "CON Choisissez un concours:\n1 Miss Cameroun 2026\n2 Star Academy"
    assert body(ctx, "2") == "CON Star Academy\n1 Vote\n2 Top 5\n3 My votes\n4 Language/Langue/Lugha\n0 Back"
    assert screen(ctx, "2*1*12*3*1*1").action == PlaceOrder("star", "12", 3, "mtn")
    assert body(ctx, "2*0") == body(ctx, "")
    assert body(ctx, "2*1*12*00") == body(ctx, "2")
    assert body(ctx, "2*1*00*0") == body(ctx, "")
    assert body(ctx, "3").startswith("CON Choix invalide.\nChoisissez un concours:")


def test_a_long_contest_list_pages_with_98() -> None:
    contests = tuple(view(slug=f"c{i}", name=f"Grand Concours Regional numero {i}") for i in range(1, 9))
    ctx = context(*contests)
    first = body(ctx, "").split("\n")
    assert first[-1] == "98 Suite" and first[1].startswith("1 Grand")
    second = body(ctx, "98").split("\n")
    assert second[1].startswith(f"{len(first) - 1} Grand")
    assert screen(ctx, "98*8*1*07*1*1*1").action == PlaceOrder("c8", "07", 1, "mtn")


# Endings decided before the menu (closed, paused, not yet open, unknown code).

@pytest.mark.parametrize(("overrides", "expected"), [
    ({"status": "closed"}, "END Les votes pour Demo Star 2026 sont clos. Merci!"),
    ({"closes_at": NOW - timedelta(minutes=1)}, "END Les votes pour Demo Star 2026 sont clos. Merci!"),
    ({"status": "paused"}, "END Les votes pour Demo Star 2026 sont suspendus. Réessayez plus tard."),
    ({"opens_at": NOW + timedelta(hours=1)}, "END Les votes pour Demo Star 2026 ne sont pas encore ouverts."),
])
def test_no_open_contest_ends_with_why(overrides: dict[str, object], expected: str) -> None:
    closed = view(**overrides)
    assert closed.availability is not VotingState.OPEN
    ctx = context(unavailable=closed)
    assert start(ctx).ending is Ending.UNAVAILABLE
    assert body(ctx, "") == expected == unavailable_contest(closed, Lang.FR).body
    assert body(ctx, "1*07") == expected


def test_route_level_endings() -> None:
    assert unknown_service().body == ("END Ce code ne correspond à aucun vote. / This code matches no vote. / "
                                      "Msimbo huu haulingani na kura yoyote.")
    assert blocked(Lang.EN).body == "END This number cannot vote. Contact the organiser if this is a mistake."
    assert placed(Lang.FR, 5, 500, "XAF", "MTN MoMo", "3F9A1C2B").body == (
        "END Merci! Validez le paiement de 500 FCFA sur votre téléphone (MTN MoMo) pour compter vos 5 votes. "
        "Ref 3F9A1C2B")
    assert refusal(Lang.FR, "rate_limited").body == \
        "END Limite de votes atteinte pour ce numéro. Réessayez plus tard."
    assert refusal(Lang.EN, "msisdn_blocked").body == blocked(Lang.EN).body
    assert refusal(Lang.EN, "contest_closed", demo()).body == "END Voting for Demo Star 2026 has closed. Thank you!"
    assert refusal(Lang.EN, "something_new").body.startswith("END Your vote cannot be placed")
    assert service_unavailable(Lang.FR).kind is Kind.END


# Top 5 and My votes.

TOP = Extras(top=(TopEntry("07", 1200, 1), TopEntry("01", 800, 2), TopEntry("03", 15, 3), TopEntry("02", 2, 4),
                  TopEntry("05", 1, 5)))


def test_top_five_with_counts_ranks_or_hidden() -> None:
    assert body(context(demo()), "2", TOP) == (
        # the rank apart from the code, the count after a colon: five lines so long share the names' room
        "CON Top 5 - Demo Star 2026\n1. 07 Grace Ndon.: 1200\n2. 01 Amina Bello: 800\n3. 03 Chantal Mb.: 15\n"
        "4. 02 Brice Nkou.: 2\n5. 05 Esther Fot.: 1\n0 Retour 00 Accueil")
    ranks = body(context(view(show_counts=False)), "2", TOP)
    assert ranks == ("CON Top 5 - Demo Star 2026\n1. 07 Grace Ndongo\n2. 01 Amina Bello\n3. 03 Chantal Mbarga\n"
                     "4. 02 Brice Nkoulou\n5. 05 Esther Fotso\n0 Retour 00 Accueil")
    frozen = context(view(board_frozen_at=NOW - timedelta(minutes=5)))
    assert body(frozen, "2", TOP) == ("CON Top 5 - Demo Star 2026\nClassement masqué jusqu'aux résultats.\n"
                                      "0 Retour 00 Accueil")
    assert "Pas encore de votes." in body(context(demo()), "2")


def test_my_votes() -> None:
    mine = Extras(mine=PayerVotes(25, 1, (PayerOrder("07", 5, "pending"), PayerOrder("07", 20, "paid"),
                                       PayerOrder("01", 3, "failed"), PayerOrder("02", 1, "paid"))))
    assert body(context(demo(), preference=Lang.EN), "3", mine) == (
        "CON My votes: 25 counted\n1 payment pending\n07 Grace Ndongo x5 pending\n07 Grace Ndongo x20 counted\n"
        "01 Amina Bello x3 failed\n0 Back 00 Home")
    assert body(context(demo()), "3", Extras(mine=PayerVotes(0, 0))) == \
        "CON Aucun vote depuis ce numéro.\n0 Retour 00 Accueil"
