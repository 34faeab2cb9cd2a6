"""Every screen the USSD menu can produce, as pure functions: with its prefix at most 160 characters and GSM-7
only, for every reachable position, every ending, hard names and any text a gateway could relay; positions are
plain values. No I/O here."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.phone.gsm7 import is_gsm7, septets
from channels.ussd.layout import SCREEN_LIMIT
from channels.ussd.menu import Ending, MenuContext, Position, Screen, parse_path, start, step, walk
from channels.ussd.screens import (
    Kind,
    Reply,
    blocked,
    placed,
    refusal,
    render,
    service_unavailable,
    unavailable_contest,
    unknown_service,
)
from channels.ussd.views import Extras, TopEntry
from gateway.core.texts import Lang
from gateway.core.voters.payer_numbers import PayerOrder, PayerVotes
from tests.channels.ussd.menus import HARD_CONTEST, HARD_NAMES, NOW, context, demo, east_african, hard, screen, view


def valid(reply: Reply) -> bool:
    """What every screen must be: a prefix, ≤160 characters with it, GSM-7 only."""
    text = reply.body
    return text[:4] in ("CON ", "END ") and len(text) <= SCREEN_LIMIT and septets(text) <= SCREEN_LIMIT \
        and is_gsm7(text)


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
    """The demo contest and a contest of hard names, every language, each operator mark, big amounts,
    shared codes (a paged list of contests), and an East African contest paid by M-Pesa or Airtel Money."""
    hard_en = replace(hard(), language=Lang.EN)
    hard_sw = replace(hard(), language=Lang.SW)
    pricey = view(slug="pricey", name=HARD_CONTEST, candidates=HARD_NAMES, price_per_vote=10_000,
                  max_votes_per_order=1000)
    many = tuple(view(slug=f"c{i}", name=f"{HARD_CONTEST} {i}", candidates=HARD_NAMES[:2]) for i in range(12))
    return [with_free_votes(ctx) for ctx in (
        *(context(demo(), operator=operator) for operator in ("mtn", "orange", None)),
        context(demo(), preference=Lang.EN), context(demo(), preference=Lang.SW),
        context(hard()), context(hard_en, operator="orange"), context(pricey, operator=None, preference=Lang.EN),
        context(hard_sw, operator="orange"), context(pricey, operator=None, preference=Lang.SW),
        context(*many), context(*many, preference=Lang.EN), context(*many, preference=Lang.SW),
        context(hard(), demo(), preference=Lang.EN), context(hard(), demo(), preference=Lang.SW),
        *(context(east_african(), operator=operator) for operator in ("mpesa", "airtel", None)),
    )]


def with_free_votes(ctx: MenuContext) -> MenuContext:
    """The caller has free votes left in every contest: the home menu's longest, and the free vote's screens."""
    return replace(ctx, free_left=tuple((contest.id, 99) for contest in ctx.contests))


@pytest.mark.parametrize("ctx", contexts_to_check(), ids=lambda c: f"{c.contests[0].slug}-{c.operator}-{c.preference}")
def test_every_reachable_screen_fits_and_is_gsm7(ctx: MenuContext) -> None:
    positions = reachable(ctx)
    assert {p.frame.screen for p in positions} >= set(Screen) - {Screen.CONTESTS}
    assert {p.ending for p in positions} >= {Ending.PLACE_ORDER, Ending.FREE_VOTE, Ending.TOO_MANY_ERRORS, None}
    for position in positions:
        listing = position.ending is None and position.frame.screen in (Screen.TOP, Screen.MINE)
        for extras in RICH_EXTRAS if listing else RICH_EXTRAS[:1]:
            reply = render(ctx, position, extras)
            assert reply.action is not None or valid(reply), (position, reply.body)


def test_every_ending_fits_and_is_gsm7() -> None:
    contest = hard()
    replies = [unknown_service(), *(f(lang) for lang in Lang for f in (blocked, service_unavailable))]
    for lang in Lang:
        replies += [placed(lang, 1000, 10_000_000, "XAF", label, "ABCDEF12") for label in ("MTN MoMo", "Orange Money")]
        replies += [placed(lang, 1000, 99_999_999, "KES", label, "ABCDEF12") for label in ("M-Pesa", "Airtel Money")]
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
    for ctx in (context(demo()), context(hard(), preference=Lang.EN), context(hard(), preference=Lang.SW)):
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
