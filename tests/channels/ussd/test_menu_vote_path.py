"""The USSD menu as pure functions, (contest data, session, text path) -> screen, along a vote's path: hop by hop
in French and English, the providers offered, navigation (0 back, 00 home, 98 next page), and wrong answers asked
again with a reason until three in a row end the session. No I/O here."""

from __future__ import annotations

import pytest

from channels.ussd.layout import REASON_LIMIT
from channels.ussd.menu import Problem, Reason, parse_path
from channels.ussd.screens import Kind, PlaceOrder, reason_text
from channels.ussd.texts import texts
from gateway.core.texts import Lang
from tests.channels.ussd.menus import BOTH, HOME_EN, HOME_FR, body, context, demo, hard, screen, view

CODES_FR_1 = ("Entrez le code du candidat:\n01 Amina Bello\n02 Brice Nkoulou\n03 Chantal Mbarga\n"
              "04 Didier Essomba\n98 Suite 0 Retour")
CODES_FR_2 = ("Entrez le code du candidat:\n05 Esther Fotso\n06 Fabrice Tchana\n07 Grace Ndongo\n"
              "08 Herve Kamga\n0 Retour")
QUANTITY_FR = "07 Grace Ndongo\nPrix: 100 FCFA/vote\nNombre de votes (1-100) ?\n0 Retour 00 Accueil"


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
    assert body(ctx, "1*07*5") == ("CON 5 votes = 500 FCFA\nPayer avec:\n1 MTN MoMo (votre réseau)\n2 Orange Money\n"
                                    "0 Retour 00 Accueil")
    assert body(ctx, "1*07*5*1") == ("CON Confirmez votre vote:\n5 votes pour 07 Grace Ndongo\nTotal: 500 FCFA\n"
                                      "Paiement: MTN MoMo\n1 Confirmer\n0 Retour 00 Accueil")
    final = screen(ctx, "1*07*5*1*1")
    assert final.kind is Kind.END and final.action == PlaceOrder("demo", "07", 5, "mtn")


def test_the_full_vote_path_in_english() -> None:
    ctx = context(demo(), preference=Lang.EN, operator="orange")
    assert body(ctx, "") == HOME_EN
    assert body(ctx, "1").startswith("CON Enter the candidate code:\n01 Amina Bello")
    assert body(ctx, "1*07") == ("CON 07 Grace Ndongo\nPrice: FCFA 100/vote\nHow many votes (1-100)?\n"
                                  "0 Back 00 Home")
    assert body(ctx, "1*07*5") == ("CON 5 votes = FCFA 500\nPay with:\n1 MTN MoMo\n2 Orange Money (your network)\n"
                                    "0 Back 00 Home")
    assert body(ctx, "1*07*5*2") == ("CON Confirm your vote:\n5 votes for 07 Grace Ndongo\nTotal: FCFA 500\n"
                                      "Payment: Orange Money\n1 Confirm\n0 Back 00 Home")
    assert screen(ctx, "1*07*5*2*1").action == PlaceOrder("demo", "07", 5, "orange")


@pytest.mark.parametrize(("providers", "usable", "listed"), [
    (("orange", "mtn"), {"mtn", "orange"}, ["1 MTN MoMo (votre réseau)", "2 Orange Money"]),  # always MTN first
    (("orange", "stripe"), {"mtn", "orange"}, ["1 Orange Money"]),
    (("mtn", "orange"), {"mtn"}, ["1 MTN MoMo (votre réseau)"]),  # no Orange push credentials here
])
def test_pay_screen_lists_only_offered_providers_in_fixed_order(providers: tuple[str, ...], usable: set[str],
                                                                 listed: list[str]) -> None:
    ctx = context(view(tuple(option for option in BOTH if option.provider in usable), providers=providers))
    lines = body(ctx, "1*07*5").split("\n")
    assert lines[2:-1] == listed
    assert screen(ctx, "1*07*5*1*1").action == PlaceOrder("demo", "07", 5, ctx.contests[0].providers[0].provider)


def test_no_operator_mark_for_a_number_of_unknown_network() -> None:
    assert "(votre réseau)" not in body(context(demo(), operator=None), "1*07*5")


def test_a_contest_without_mobile_money_ends_at_vote() -> None:
    ctx = context(view(providers=("stripe",)))
    assert body(ctx, "1") == "END Le paiement mobile n'est pas disponible pour ce concours."
    assert body(ctx, "2").startswith("CON Top 5")  # the rest of the menu still works


def test_codes_are_matched_by_number_too() -> None:
    ctx = context(demo())
    assert screen(ctx, "1*7").body == "CON " + QUANTITY_FR
    assert screen(ctx, "1*007*5*1*1").action == PlaceOrder("demo", "07", 5, "mtn")


def test_98_is_a_quantity_where_no_list_is_shown() -> None:
    assert body(context(demo()), "1*07*98").startswith("CON 98 votes = 9 800 FCFA")


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
    ("4*5", "Choix invalide.", "Langue / Language / Lugha:\n1 Francais\n2 English\n3 Kiswahili\n0 Retour"),
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
    assert body(ctx, "1*x*x*x") == "END Trop d'erreurs. Recomposez *384*123# pour réessayer. A bientot!"
    # a right answer (navigation included) starts the count again
    assert body(ctx, "1*x*0*x*1*x*07*x*5*1*0*x") == "CON Choix invalide.\n" + "5 votes = 500 FCFA\nPayer avec:\n" \
        "1 MTN MoMo (votre réseau)\n2 Orange Money\n0 Retour 00 Accueil"
    assert screen(context(demo(), preference=Lang.EN), "9*9*9").body.startswith("END Too many wrong answers.")


def test_nothing_after_the_end_changes_it() -> None:
    ctx = context(demo())
    assert body(ctx, "1*x*x*x*1*07") == body(ctx, "1*x*x*x")
    assert screen(ctx, "1*07*5*1*1*3").action == PlaceOrder("demo", "07", 5, "mtn")


def test_reason_lines_fit_their_reserved_room() -> None:
    for lang in Lang:
        for problem in Problem:
            for detail in ("12345678", "1000000"):
                assert len(reason_text(texts(lang), Reason(problem, detail))) <= REASON_LIMIT, (lang, problem)
