"""The USSD menu as pure functions: (contest data, session, text path) -> screen. No I/O here."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.phone.gsm7 import is_gsm7, septets
from channels.phone.operators import Operator
from channels.ussd.layout import REASON_LIMIT, SCREEN_LIMIT
from channels.ussd.menu import (
    Ending,
    MenuContext,
    Position,
    Problem,
    Reason,
    Screen,
    parse_path,
    start,
    step,
    walk,
)
from channels.ussd.screens import (
    Kind,
    PlaceOrder,
    Reply,
    blocked,
    placed,
    reason_text,
    refusal,
    render,
    service_unavailable,
    unavailable_contest,
    unknown_service,
)
from channels.ussd.texts import texts
from channels.ussd.views import Extras, TopEntry
from gateway.core.rules import VotingState
from gateway.core.texts import Lang
from gateway.core.voters import PayerOrder, PayerVotes
from tests.ussd.menus import HARD_CONTEST, HARD_NAMES, NOW, body, context, demo, hard, screen, view

HOME_FR = "CON Demo Star 2026\n1 Voter\n2 Top 5\n3 Mes votes\n4 Langue/Language"
HOME_EN = "CON Demo Star 2026\n1 Vote\n2 Top 5\n3 My votes\n4 Language/Langue"
CODES_FR_1 = ("Entrez le code du candidat:\n01 Amina Bello\n02 Brice Nkoulou\n03 Chantal Mbarga\n"
              "04 Didier Essomba\n98 Suite 0 Retour")
CODES_FR_2 = ("Entrez le code du candidat:\n05 Esther Fotso\n06 Fabrice Tchana\n07 Grace Ndongo\n"
              "08 Herve Kamga\n0 Retour")
QUANTITY_FR = "07 Grace Ndongo\nPrix: 100 XAF/vote\nNombre de votes (1-100) ?\n0 Retour 00 Accueil"


def valid(reply: Reply) -> bool:
    """What every screen must be: a prefix, ≤160 characters with it, GSM-7 only."""
    text = reply.body
    return text[:4] in ("CON ", "END ") and len(text) <= SCREEN_LIMIT and septets(text) <= SCREEN_LIMIT \
        and is_gsm7(text)


# The path of a vote, hop by hop.

def test_parse_path_follows_africas_talking() -> None:
    assert parse_path("") == ()
    assert parse_path("1") == ("1",)
    assert parse_path("3*07*5") == ("3", "07", "5")
    assert parse_path("1*") == ("1", "")
    assert parse_path(" 1 * 07 ") == ("1", "07")


def test_the_full_vote_path_in_french() -> None:
    ctx = context(demo())
    assert body(ctx, "") == HOME_FR
    assert body(ctx, "1") == "CON " + CODES_FR_1
    assert body(ctx, "1*07") == "CON " + QUANTITY_FR
    assert body(ctx, "1*07*5") == ("CON 5 vote(s) = 500 XAF\nPayer avec:\n1 MTN MoMo (votre reseau)\n2 Orange Money\n"
                                    "0 Retour 00 Accueil")
    assert body(ctx, "1*07*5*1") == ("CON Confirmez votre vote:\n5 vote(s) pour 07 Grace Ndongo\nTotal: 500 XAF\n"
                                      "Paiement: MTN MoMo\n1 Confirmer\n0 Retour 00 Accueil")
    final = screen(ctx, "1*07*5*1*1")
    assert final.kind is Kind.END and final.action == PlaceOrder("demo", "07", 5, Operator.MTN)


def test_the_full_vote_path_in_english() -> None:
    ctx = context(demo(), preference=Lang.EN, operator=Operator.ORANGE)
    assert body(ctx, "") == HOME_EN
    assert body(ctx, "1").startswith("CON Enter the candidate code:\n01 Amina Bello")
    assert body(ctx, "1*07") == ("CON 07 Grace Ndongo\nPrice: 100 XAF/vote\nHow many votes (1-100)?\n"
                                  "0 Back 00 Home")
    assert body(ctx, "1*07*5") == ("CON 5 vote(s) = 500 XAF\nPay with:\n1 MTN MoMo\n2 Orange Money (your network)\n"
                                    "0 Back 00 Home")
    assert body(ctx, "1*07*5*2") == ("CON Confirm your vote:\n5 vote(s) for 07 Grace Ndongo\nTotal: 500 XAF\n"
                                      "Payment: Orange Money\n1 Confirm\n0 Back 00 Home")
    assert screen(ctx, "1*07*5*2*1").action == PlaceOrder("demo", "07", 5, Operator.ORANGE)


@pytest.mark.parametrize(("providers", "usable", "listed"), [
    (("orange", "mtn"), {"mtn", "orange"}, ["1 MTN MoMo (votre reseau)", "2 Orange Money"]),  # always MTN first
    (("orange", "stripe"), {"mtn", "orange"}, ["1 Orange Money"]),
    (("mtn", "orange"), {"mtn"}, ["1 MTN MoMo (votre reseau)"]),  # no Orange push credentials here
])
def test_pay_screen_lists_only_offered_providers_in_fixed_order(providers: tuple[str, ...], usable: set[str],
                                                                 listed: list[str]) -> None:
    ctx = context(view(frozenset(usable), providers=providers))
    lines = body(ctx, "1*07*5").split("\n")
    assert lines[2:-1] == listed
    assert screen(ctx, "1*07*5*1*1").action == PlaceOrder("demo", "07", 5, ctx.contests[0].providers[0])


def test_no_operator_mark_for_a_number_of_unknown_network() -> None:
    assert "(votre reseau)" not in body(context(demo(), operator=None), "1*07*5")


def test_a_contest_without_mobile_money_ends_at_vote() -> None:
    ctx = context(view(providers=("stripe",)))
    assert body(ctx, "1") == "END Le paiement mobile n'est pas disponible pour ce concours."
    assert body(ctx, "2").startswith("CON Top 5")  # the rest of the menu still works


def test_codes_are_matched_by_number_too() -> None:
    ctx = context(demo())
    assert screen(ctx, "1*7").body == "CON " + QUANTITY_FR
    assert screen(ctx, "1*007*5*1*1").action == PlaceOrder("demo", "07", 5, Operator.MTN)


def test_98_is_a_quantity_where_no_list_is_shown() -> None:
    assert body(context(demo()), "1*07*98").startswith("CON 98 vote(s) = 9800 XAF")


# Navigation: 0 back, 00 home, 98 next page.

@pytest.mark.parametrize(("path", "expected"), [
    ("1*0", HOME_FR),
    ("1*07*0", "CON " + CODES_FR_1),
    ("1*98", "CON " + CODES_FR_2),
    ("1*98*0", "CON " + CODES_FR_1),
    ("1*98*07*0", "CON " + CODES_FR_2),  # back returns to the page the code was typed on
    ("1*07*5*0", "CON " + QUANTITY_FR),
    ("1*07*5*1*0*0*0", "CON " + CODES_FR_1),
    ("1*07*5*1*0*0*0*0", HOME_FR),
    ("1*07*5*1*00", HOME_FR),
    ("1*98*00", HOME_FR),
    ("0", HOME_FR),  # nothing to go back to: the first screen again, not an error
    ("0*0*0*0", HOME_FR),
    ("2*0", HOME_FR),
    ("3*00", HOME_FR),
    ("4*0", HOME_FR),
])
def test_navigation(path: str, expected: str) -> None:
    assert body(context(demo()), path) == expected


def test_98_past_the_last_page_says_so() -> None:
    assert body(context(demo()), "1*98*98") == "CON Pas d'autre page.\n" + CODES_FR_2


def test_every_listed_candidate_is_reachable_by_paging() -> None:
    ctx = context(hard(), preference=Lang.EN)
    seen: list[str] = []
    path = "1"
    for _ in range(10):
        lines = body(ctx, path).split("\n")
        seen += [line[:2] for line in lines[1:] if line[:2].isdigit() and line[2] == " " and line[:2] != "98"]
        if "98 More" not in lines[-1]:
            break
        path += "*98"
    assert seen == [c.code for c in ctx.contests[0].listed]


# Wrong answers: the same question with a one-line reason; three in a row end the session.

@pytest.mark.parametrize(("path", "reason", "question"), [
    ("9", "Choix invalide.", HOME_FR[4:]),
    ("", None, HOME_FR[4:]),
    ("1*99", "Code 99 inconnu.", CODES_FR_1),
    ("1*ab", "Tapez le code en chiffres.", CODES_FR_1),
    ("1*", "Vous n'avez rien saisi.", CODES_FR_1),
    ("1*98*123456789012", "Code 12345678 inconnu.", CODES_FR_2),
    ("1*03", "03 n'est plus en lice.", CODES_FR_1.replace("03 Chantal Mbarga\n04 Didier Essomba\n",
                                                          "04 Didier Essomba\n05 Esther Fotso\n")),
    ("1*07*000", "Minimum 1 vote.", QUANTITY_FR),
    ("1*07*101", "Maximum 100 votes.", QUANTITY_FR),
    ("1*07*5x", "Tapez un nombre.", QUANTITY_FR),
    ("1*07*-5", "Tapez un nombre.", QUANTITY_FR),
    ("1*07*", "Vous n'avez rien saisi.", QUANTITY_FR),
    ("1*07*5*3", "Choix invalide.", None),
    ("1*07*5*1*2", "Choix invalide.", None),
    ("4*3", "Choix invalide.", "Langue / Language:\n1 Francais\n2 English\n0 Retour"),
    ("2*1", "Choix invalide.", None),
])
def test_a_wrong_answer_asks_again_with_a_reason(path: str, reason: str | None, question: str | None) -> None:
    ctx = context(view(eliminated=("03",)) if path == "1*03" else demo())
    reply = screen(ctx, path)
    assert reply.kind is Kind.CON
    if reason is None:
        assert reply.text == question
        return
    first, rest = reply.text.split("\n", 1)
    assert first == reason
    assert question is None or rest == question
    assert rest == screen(ctx, path.rsplit("*", 1)[0] if "*" in path else "").text


def test_three_wrong_answers_in_a_row_end_the_session() -> None:
    ctx = context(demo())
    assert screen(ctx, "1*x*x").kind is Kind.CON
    assert body(ctx, "1*x*x*x") == "END Trop d'erreurs. Recomposez *384*123# pour reessayer. A bientot!"
    # a right answer (navigation included) starts the count again
    assert body(ctx, "1*x*0*x*1*x*07*x*5*1*0*x") == "CON Choix invalide.\n" + "5 vote(s) = 500 XAF\nPayer avec:\n" \
        "1 MTN MoMo (votre reseau)\n2 Orange Money\n0 Retour 00 Accueil"
    assert screen(context(demo(), preference=Lang.EN), "9*9*9").body.startswith("END Too many wrong answers.")


def test_nothing_after_the_end_changes_it() -> None:
    ctx = context(demo())
    assert body(ctx, "1*x*x*x*1*07") == body(ctx, "1*x*x*x")
    assert screen(ctx, "1*07*5*1*1*3").action == PlaceOrder("demo", "07", 5, Operator.MTN)


def test_reason_lines_fit_their_reserved_room() -> None:
    for lang in Lang:
        for problem in Problem:
            for detail in ("12345678", "1000000"):
                assert len(reason_text(texts(lang), Reason(problem, detail))) <= REASON_LIMIT, (lang, problem)


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


# A service code shared by several open contests.

def shared() -> MenuContext:
    first = view(slug="miss", name="Miss Cameroun 2026")
    second = view(slug="star", name="Star Academy", default_language="en",
                  candidates=(("11", "Paul Biya Jr"), ("12", "Samuel Eto")))
    return context(first, second)


def test_a_shared_code_lists_its_contests_first() -> None:
    ctx = shared()
    assert body(ctx, "") == "CON Choisissez un concours:\n1 Miss Cameroun 2026\n2 Star Academy"
    assert body(ctx, "2") == "CON Star Academy\n1 Vote\n2 Top 5\n3 My votes\n4 Language/Langue\n0 Back"
    assert screen(ctx, "2*1*12*3*1*1").action == PlaceOrder("star", "12", 3, Operator.MTN)
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
    assert screen(ctx, "98*8*1*07*1*1*1").action == PlaceOrder("c8", "07", 1, Operator.MTN)


# Endings decided before the menu (closed, paused, not yet open, unknown code).

@pytest.mark.parametrize(("overrides", "expected"), [
    ({"status": "closed"}, "END Les votes pour Demo Star 2026 sont clos. Merci!"),
    ({"closes_at": NOW - timedelta(minutes=1)}, "END Les votes pour Demo Star 2026 sont clos. Merci!"),
    ({"status": "paused"}, "END Les votes pour Demo Star 2026 sont suspendus. Reessayez plus tard."),
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
    assert unknown_service().body == "END Ce code ne correspond a aucun vote. / This code matches no vote."
    assert blocked(Lang.EN).body == "END This number cannot vote. Contact the organiser if this is a mistake."
    assert placed(Lang.FR, 5, 500, "XAF", "mtn", "3F9A1C2B").body == (
        "END Merci! Validez le paiement de 500 XAF sur votre telephone (MTN MoMo) pour compter vos 5 vote(s). "
        "Ref 3F9A1C2B")
    assert refusal(Lang.FR, "rate_limited").body == \
        "END Limite de votes atteinte pour ce numero. Reessayez plus tard."
    assert refusal(Lang.EN, "msisdn_blocked").body == blocked(Lang.EN).body
    assert refusal(Lang.EN, "contest_closed", demo()).body == "END Voting for Demo Star 2026 has closed. Thank you!"
    assert refusal(Lang.EN, "something_new").body.startswith("END Your vote cannot be placed")
    assert service_unavailable(Lang.FR).kind is Kind.END


# Top 5 and My votes.

TOP = Extras(top=(TopEntry("07", 1200, 1), TopEntry("01", 800, 2), TopEntry("03", 15, 3), TopEntry("02", 2, 4),
                  TopEntry("05", 1, 5)))


def test_top_five_with_counts_ranks_or_hidden() -> None:
    assert body(context(demo()), "2", TOP) == (
        "CON Top 5 - Demo Star 2026\n1.07 Grace Ndongo 1200\n2.01 Amina Bello 800\n3.03 Chantal Mbarga 15\n"
        "4.02 Brice Nkoulou 2\n5.05 Esther Fotso 1\n0 Retour 00 Accueil")
    ranks = body(context(view(show_counts=False)), "2", TOP)
    assert "1.07 Grace Ndongo\n2.01 Amina Bello" in ranks and "1200" not in ranks
    frozen = context(view(board_frozen_at=NOW - timedelta(minutes=5)))
    assert body(frozen, "2", TOP) == ("CON Top 5 - Demo Star 2026\nClassement masque jusqu'aux resultats.\n"
                                      "0 Retour 00 Accueil")
    assert "Pas encore de votes." in body(context(demo()), "2")


def test_my_votes() -> None:
    mine = Extras(mine=PayerVotes(25, 1, (PayerOrder("07", 5, "pending"), PayerOrder("07", 20, "paid"),
                                       PayerOrder("01", 3, "failed"), PayerOrder("02", 1, "paid"))))
    assert body(context(demo(), preference=Lang.EN), "3", mine) == (
        "CON My votes: 25 counted\n1 payment(s) pending\n07 Grace Ndongo x5 pending\n07 Grace Ndongo x20 counted\n"
        "01 Amina Bello x3 failed\n0 Back 00 Home")
    assert body(context(demo()), "3", Extras(mine=PayerVotes(0, 0))) == \
        "CON Aucun vote depuis ce numero.\n0 Retour 00 Accueil"


# Every screen the menu can produce: ≤160 characters with the prefix, GSM-7 only.

RICH_EXTRAS = (
    Extras(),
    Extras(top=tuple(TopEntry(code, 9_999_999 - i, i + 1) for i, code in enumerate(("10", "07", "01", "08", "09")))),
    Extras(mine=PayerVotes(9_999_999, 99, tuple(PayerOrder(code, 100, status) for code, status in
                                              (("10", "refund_requested"), ("07", "pending"), ("08", "flagged"))))),
)


def reachable(ctx: MenuContext) -> list[Position]:
    """Every screen a caller can reach, trying each kind of answer on each screen until nothing new appears.

    Positions are told apart by what their screen depends on (top frame, language, reason, wrong answers,
    ending), not by the history below the top frame: a frame that "back" returns to was itself on top before.
    """
    codes = {c.code for contest in ctx.contests for c in contest.candidates}
    maxima = {str(contest.max_votes) for contest in ctx.contests}
    alphabet = ["", "0", "00", "98", "1", "2", "3", "4", "5", "9", "7", "x", "000", "101", "99", *codes, *maxima]

    def key(p: Position) -> tuple[object, ...]:
        return p.frame, p.lang_choice, p.reason, p.wrong, p.ending

    first = start(ctx)
    seen, found, queue = {key(first)}, [first], deque([first])
    while queue:
        position = queue.popleft()
        if position.ending is not None:
            continue
        for raw in alphabet:
            following = step(ctx, position, raw)
            if key(following) not in seen:
                seen.add(key(following))
                found.append(following)
                queue.append(following)
    return found


def contexts_to_check() -> list[MenuContext]:
    """The demo contest and a contest of hard names, both languages, each operator mark, big amounts,
    and shared codes (a paged list of contests)."""
    hard_en = replace(hard(), language=Lang.EN)
    pricey = view(slug="pricey", name=HARD_CONTEST, candidates=HARD_NAMES, price_per_vote=10_000,
                  max_votes_per_order=1000)
    many = tuple(view(slug=f"c{i}", name=f"{HARD_CONTEST} {i}", candidates=HARD_NAMES[:2]) for i in range(12))
    return [
        *(context(demo(), operator=operator) for operator in (Operator.MTN, Operator.ORANGE, None)),
        context(demo(), preference=Lang.EN),
        context(hard()), context(hard_en, operator=Operator.ORANGE), context(pricey, operator=None, preference=Lang.EN),
        context(*many), context(*many, preference=Lang.EN), context(hard(), demo(), preference=Lang.EN),
    ]


@pytest.mark.parametrize("ctx", contexts_to_check(), ids=lambda c: f"{c.contests[0].slug}-{c.operator}-{c.preference}")
def test_every_reachable_screen_fits_and_is_gsm7(ctx: MenuContext) -> None:
    positions = reachable(ctx)
    assert {p.frame.screen for p in positions} >= set(Screen) - {Screen.CONTESTS}
    assert {p.ending for p in positions} >= {Ending.PLACE_ORDER, Ending.TOO_MANY_ERRORS, None}
    for position in positions:
        listing = position.ending is None and position.frame.screen in (Screen.TOP, Screen.MINE)
        for extras in RICH_EXTRAS if listing else RICH_EXTRAS[:1]:
            reply = render(ctx, position, extras)
            assert reply.action is not None or valid(reply), (position, reply.body)


def test_every_ending_fits_and_is_gsm7() -> None:
    contest = hard()
    replies = [unknown_service(), *(f(lang) for lang in Lang for f in (blocked, service_unavailable))]
    for lang in Lang:
        replies += [placed(lang, 1000, 10_000_000, "XAF", provider, "ABCDEF12") for provider in ("mtn", "orange")]
        replies += [refusal(lang, code, contest) for code in (
            "msisdn_blocked", "rate_limited", "candidate_not_found", "candidate_not_active", "provider_unavailable",
            "provider_not_enabled", "msisdn_required", "invalid_msisdn", "contest_closed", "contest_not_open",
            "payment_unavailable", "anything")]
        replies += [unavailable_contest(view(name=contest.name, **change), lang) for change in (
            {"status": "closed"}, {"status": "paused"}, {"opens_at": NOW + timedelta(days=1)})]
        ctx = context(hard(), preference=lang)
        replies.append(render(ctx, walk(ctx, ["9", "9", "9"])))
        no_money = context(view(name=HARD_CONTEST, providers=("stripe",)), preference=lang)
        replies.append(render(no_money, walk(no_money, ["1"])))
    for reply in replies:
        assert reply.kind is Kind.END and valid(reply), reply.body


def test_hard_names_are_transliterated() -> None:
    names = {c.code: c.name for c in hard().candidates}
    assert names["01"] == "Emilie Nunez"
    assert names["02"] == "Zoe Kouassi-Bedie"
    assert names["04"] == "Cand. 04"  # only emoji: a readable fallback
    assert names["05"] == "Lukasz Oster Strasse"
    assert names["07"] == 'Jean-Francois " Le Roi " Mbappe-Ngassa'
    assert names["08"] == "Chloe \"Queen\" O'Neil..."
    assert hard().name.startswith("Miss Cote d'Ivoire 2026 - la grande finale")


@given(st.text(alphabet="0123456789*#ab ", max_size=40))
def test_any_path_gives_a_valid_screen(text: str) -> None:
    for ctx in (context(demo()), context(hard(), preference=Lang.EN)):
        reply = screen(ctx, text, RICH_EXTRAS[1])
        assert reply.action is not None or valid(reply), (text, reply.body)


@given(st.text(max_size=200))
def test_any_text_a_gateway_could_relay_gives_a_valid_screen(text: str) -> None:
    """Not only keypad input: whatever reaches the menu (unicode, control characters, long runs)."""
    reply = screen(context(demo()), text, RICH_EXTRAS[1])
    assert reply.action is not None or valid(reply), (text, reply.body)


def test_positions_are_plain_values() -> None:
    ctx = context(demo())
    assert walk(ctx, parse_path("1*07*5")) == walk(ctx, parse_path("1*07*5"))
    assert walk(ctx, parse_path("1*07*5")).frame.screen is Screen.PROVIDER
    assert isinstance(screen(ctx, "1"), Reply)
