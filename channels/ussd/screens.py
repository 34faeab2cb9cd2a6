"""Positions of the menu as the text a phone shows: `CON …` (asks) or `END …` (closes), always GSM-7
and at most 160 characters with the prefix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from channels.phone.contest_takes import takes_message
from channels.phone.free_vote_texts import free_vote_option
from channels.phone.gsm7 import clip, septets, transliterate
from channels.phone.texts import (
    placed_message,
    ranking_line,
    refusal_message,
    texted_money,
    unavailable_message,
    vote_messages,
)
from channels.ussd.layout import TEXT_BUDGET, candidate_pages, contest_pages, fit_width, fits
from channels.ussd.menu import Ending, Frame, MenuContext, Position, Problem, Reason, Screen, free_left, language
from channels.ussd.texts import (
    LANGUAGE_OPTIONS,
    UNKNOWN_SERVICE,
    Texts,
    failed_because,
    mine_pending,
    mine_title,
    pay_with,
    summary_line,
    texts,
    tier_line,
    too_many,
)
from channels.ussd.views import BoardMode, Extras, MenuContest, TopEntry
from gateway.core.providers import Approval
from gateway.core.texts import Lang
from gateway.core.voters.payer_numbers import PayerOrder, PayerVotes

NAME_WIDTHS = (20, 16, 13, 10, 8, 6)
TOP_NAME_WIDTHS = tuple(range(20, 5, -1))  # five ranked names share a screen: each as wide as they all fit
MINE_RECENT = 3


class Kind(StrEnum):
    CON = "CON"  # the screen waits for an answer
    END = "END"  # the session closes


@dataclass(frozen=True)
class PlaceOrder:
    """The voter confirmed: what the route must order."""

    contest_slug: str
    candidate: str
    quantity: int
    provider: str


@dataclass(frozen=True)
class TakeFreeVote:
    """The voter chose a candidate for a free vote: what the route must take (channels.ussd.free_votes)."""

    contest_slug: str
    candidate: str


@dataclass(frozen=True)
class Reply:
    kind: Kind
    text: str
    action: PlaceOrder | TakeFreeVote | None = None
    language: Lang = Lang.FR

    @property
    def body(self) -> str:
        return f"{self.kind.value} {self.text}"


def fit(text: str) -> str:
    """Last resort for a screen that would not fit: cut it (tests make sure none does)."""
    if septets(text) <= TEXT_BUDGET:
        return text
    kept, used = [], 0
    for ch in text:
        used += septets(ch)
        if used > TEXT_BUDGET - 1:
            break
        kept.append(ch)
    return "".join(kept) + "."


def con(lines: Sequence[str], lang: Lang) -> Reply:
    return Reply(Kind.CON, fit("\n".join(lines)), language=lang)


def end(text: str, lang: Lang) -> Reply:
    return Reply(Kind.END, fit(text), language=lang)


def render(ctx: MenuContext, position: Position, extras: Extras | None = None) -> Reply:
    """The reply for a position (an order to place is returned as an action, rendered after it is placed)."""
    lang = language(ctx, position)
    t = texts(lang)
    if position.ending is not None:
        return ending(ctx, position, lang)
    reason = [reason_text(t, position.reason)] if position.reason else []
    budget = TEXT_BUDGET - sum(len(line) + 1 for line in reason)
    lines = SCREENS[position.frame.screen](ctx, position.frame, t, extras or Extras(), budget)
    return con([*reason, *lines], lang)


def ending(ctx: MenuContext, position: Position, lang: Lang) -> Reply:
    t, frame = texts(lang), position.frame
    if position.ending is Ending.PLACE_ORDER:
        contest = ctx.contests[frame.contest]
        assert frame.candidate and frame.quantity and frame.provider
        action = PlaceOrder(contest.slug, frame.candidate, frame.quantity, frame.provider)
        return Reply(Kind.END, "", action=action, language=lang)
    if position.ending is Ending.FREE_VOTE:
        assert frame.candidate
        return Reply(Kind.END, "", action=TakeFreeVote(ctx.contests[frame.contest].slug, frame.candidate),
                     language=lang)
    if position.ending is Ending.TOO_MANY_ERRORS:
        return end(t.too_many_errors.format(service_code=clip(transliterate(ctx.service_code), 20)), lang)
    if position.ending is Ending.NO_PAYMENT:
        return end(vote_messages(lang).no_payment, lang)
    return unavailable_contest(ctx.unavailable, lang)


def unavailable_contest(contest: MenuContest | None, lang: Lang) -> Reply:
    if contest is None:
        return unknown_service(lang)
    return end(unavailable_message(lang, contest.availability, contest.name), lang)


def reason_text(t: Texts, reason: Reason) -> str:
    if reason.problem is Problem.TOO_MANY:
        return too_many(t, int(reason.detail))
    template = {
        Problem.INVALID_CHOICE: t.invalid_choice, Problem.EMPTY: t.empty, Problem.NOT_A_CODE: t.not_a_code,
        Problem.UNKNOWN_CODE: t.unknown_code, Problem.ELIMINATED: t.eliminated,
        Problem.NOT_A_NUMBER: t.not_a_number, Problem.TOO_FEW: t.too_few, Problem.NO_MORE: t.no_more,
    }[reason.problem]
    return template.format(code=reason.detail)


ScreenLines = Callable[[MenuContext, Frame, Texts, Extras, int], list[str]]


def contests_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    return list(contest_pages(ctx.contests, t)[frame.page])


def home_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    contest = ctx.contests[frame.contest]
    back = [t.back] if len(ctx.contests) > 1 else []
    free = [free_vote_option(t.lang)] if free_left(ctx, frame) else []
    return [clip(contest.name, 40), *t.home, *free, *back]


def language_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    return [t.language_title, *(label for _, _, label in LANGUAGE_OPTIONS), t.back]


def candidate_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    return list(candidate_pages(ctx.contests[frame.contest], t)[frame.page])


def _chosen(ctx: MenuContext, frame: Frame) -> tuple[MenuContest, str, str]:
    contest = ctx.contests[frame.contest]
    candidate = contest.candidate(frame.candidate or "")
    return contest, frame.candidate or "", candidate.name if candidate else ""


def quantity_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    """The price of a vote, then each bundle by its number of votes ("10 votes: 900 FCFA"): the voter types a
    bundle's votes to buy it, or any other number at the price of a vote, one question with no menu numbers to
    mistake for a quantity. Bundles that leave no room on the screen are written short ("10=900 FCFA")."""
    contest, code, name = _chosen(ctx, frame)
    money = {tier.votes: texted_money(tier.amount, contest.currency, t.lang) for tier in contest.tiers}
    long = [tier_line(t, votes, amount) for votes, amount in money.items()]
    short = [f"{votes}={amount}" for votes, amount in money.items()]
    # Written once, not again for each name width tried below.
    price = t.price.format(price=texted_money(contest.price, contest.currency, t.lang))

    def lines(width: int, tiers: list[str] = long) -> list[str]:
        return [f"{code} {clip(name, width)}", price, *tiers, t.quantity.format(maximum=contest.max_votes),
                t.back_home]

    if not fits(lines(NAME_WIDTHS[-1]), budget):
        return lines(fit_width(lambda width: lines(width, short), (30, *NAME_WIDTHS), budget), short)
    return lines(fit_width(lines, (30, *NAME_WIDTHS), budget))


def provider_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    contest = ctx.contests[frame.contest]
    total = texted_money(contest.amount_of(frame.quantity or 0), contest.currency, t.lang)
    options = [f"{index} {option.label}{t.your_network if option.provider == ctx.operator else ''}"
               for index, option in enumerate(contest.providers, start=1)]
    return [pay_with(t, frame.quantity or 0, total), *options, t.back_home]


def chosen_label(contest: MenuContest, provider: str | None) -> str:
    return next((option.label for option in contest.providers if option.provider == provider), provider or "")


def summary_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    contest, code, name = _chosen(ctx, frame)
    quantity = frame.quantity or 0
    # Written once, not again for each name width tried (up to six).
    total = t.total.format(total=texted_money(contest.amount_of(quantity), contest.currency, t.lang))
    payment = t.payment.format(provider=chosen_label(contest, frame.provider))

    def lines(width: int) -> list[str]:
        return [t.summary, summary_line(t, quantity, code, clip(name, width)), total, payment, t.confirm,
                t.back_home]

    return lines(fit_width(lines, NAME_WIDTHS, budget))


def top_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    contest = ctx.contests[frame.contest]
    title = t.top_title.format(contest=clip(contest.name, 20))
    if contest.board is BoardMode.HIDDEN:
        return [title, t.top_hidden, t.back_home]
    if not extras.top:
        return [title, t.top_empty, t.back_home]
    names = {c.code: c.name for c in contest.candidates}

    def lines(width: int) -> list[str]:
        return [title, *(top_line(t, entry, names, width, contest.board) for entry in extras.top), t.back_home]

    return lines(fit_width(lines, TOP_NAME_WIDTHS, budget))


def top_line(t: Texts, entry: TopEntry, names: dict[str, str], width: int, board: BoardMode) -> str:
    """The board's rank, so tied candidates read "1." both, as on the board: "1. 07 Grace Ndongo: 12"."""
    votes = entry.votes if board is BoardMode.COUNTS else None
    return ranking_line(t.lang, entry.rank, entry.code, clip(names.get(entry.code, ""), width), votes)


def mine_screen(ctx: MenuContext, frame: Frame, t: Texts, extras: Extras, budget: int) -> list[str]:
    mine = extras.mine
    if mine is None or (not mine.paid_votes and not mine.recent):
        return [t.mine_empty, t.back_home]
    names = {c.code: c.name for c in ctx.contests[frame.contest].candidates}

    def lines(width: int) -> list[str]:
        return mine_lines(mine, names, t, width)

    return lines(fit_width(lines, NAME_WIDTHS, budget))


def mine_lines(mine: PayerVotes, names: dict[str, str], t: Texts, width: int) -> list[str]:
    pending = [mine_pending(t, mine.pending_orders)] if mine.pending_orders else []
    recent = [f"{o.code} {clip(names.get(o.code, ''), width)} x{o.quantity} {order_status(t, o)}"
              for o in mine.recent[:MINE_RECENT]]
    return [mine_title(t, mine.paid_votes), *pending, *recent, t.back_home]


def order_status(t: Texts, order: PayerOrder) -> str:
    """An order's state in words; a failed one says why ("échoué: PIN erroné"), never the provider's code."""
    if order.status == "failed":
        return failed_because(t, order.reason)
    return t.statuses.get(order.status, order.status)


SCREENS: dict[Screen, ScreenLines] = {
    Screen.CONTESTS: contests_screen,
    Screen.HOME: home_screen,
    Screen.LANGUAGE: language_screen,
    Screen.CANDIDATE: candidate_screen,
    Screen.QUANTITY: quantity_screen,
    Screen.PROVIDER: provider_screen,
    Screen.SUMMARY: summary_screen,
    Screen.TOP: top_screen,
    Screen.MINE: mine_screen,
    Screen.FREE: candidate_screen,  # the same list: the home menu's "5 Free vote" led here
}


# Endings decided by the route (before the walk, or after placing the order).

def unknown_service(lang: Lang = Lang.FR) -> Reply:
    return end(UNKNOWN_SERVICE, lang)


def blocked(lang: Lang) -> Reply:
    return end(vote_messages(lang).blocked, lang)


def service_unavailable(lang: Lang) -> Reply:
    return end(vote_messages(lang).unavailable, lang)


def placed(lang: Lang, quantity: int, amount: int, currency: str, label: str, reference: str,
           approval: Approval = Approval.MENU_APPROVAL) -> Reply:
    """The last screen of a vote: what to do on the operator's own prompt (we never ask for the PIN), by how its
    payer approves it (`VoteService.approval`); `label`: the provider's name on the phone (`provider_label`)."""
    return end(placed_message(lang, quantity, amount, currency, label, reference, approval), lang)


def refusal(lang: Lang, code: str, contest: MenuContest | None = None) -> Reply:
    """A vote the core refused, by the error's stable code."""
    if contest is None:
        return end(refusal_message(lang, code, ""), lang)
    return end(refusal_message(lang, code, contest.name, contest.availability, takes(lang, contest).body), lang)


def takes(lang: Lang, contest: MenuContest) -> Reply:
    """What the contest takes (its wallets offered here, its country's numbers): the answer to a caller from another
    country or on a network none of them serves, who could only retry in vain."""
    return end(takes_message(lang, [option.label for option in contest.providers], contest.country), lang)
