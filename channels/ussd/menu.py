"""The USSD menu as a walk over the whole `text` path: every hop replays every input from the first
screen, so the screen depends only on (contest data, session, path) and never on stored state.

`walk` gives a `Position`; screens.py turns a position into the text a phone shows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from channels.ussd.layout import candidate_pages, contest_pages
from channels.ussd.texts import LANGUAGE_OPTIONS, texts
from channels.ussd.views import MenuContest, is_keypad_number
from gateway.core.texts import Lang

BACK, HOME, MORE = "0", "00", "98"
MAX_WRONG = 3  # wrong answers in a row before the session is ended


class Screen(StrEnum):
    CONTESTS = "contests"  # a service code shared by several open contests
    HOME = "home"
    LANGUAGE = "language"
    CANDIDATE = "candidate"
    QUANTITY = "quantity"
    PROVIDER = "provider"
    SUMMARY = "summary"
    TOP = "top"
    MINE = "mine"
    FREE = "free"  # the candidates of a free vote (channels.ussd.free_votes)


class Ending(StrEnum):
    PLACE_ORDER = "place_order"  # the voter confirmed: the route places the order
    TOO_MANY_ERRORS = "too_many_errors"
    NO_PAYMENT = "no_payment"  # the contest offers no mobile money over USSD
    UNAVAILABLE = "unavailable"  # nothing open on this code (closed, paused, not yet open)
    FREE_VOTE = "free_vote"  # the voter chose a candidate for a free vote: the route takes it


class Problem(StrEnum):
    """Why an answer was refused; shown as one line above the question asked again."""

    INVALID_CHOICE = "invalid_choice"
    EMPTY = "empty"
    NOT_A_CODE = "not_a_code"
    UNKNOWN_CODE = "unknown_code"
    ELIMINATED = "eliminated"
    NOT_A_NUMBER = "not_a_number"
    TOO_FEW = "too_few"
    TOO_MANY = "too_many"
    NO_MORE = "no_more"


@dataclass(frozen=True)
class Reason:
    problem: Problem
    detail: str = ""  # the code typed, or the maximum


# The reasons that name nothing typed, made once rather than for every answer refused (a walk replays them all).
INVALID_CHOICE, EMPTY = Reason(Problem.INVALID_CHOICE), Reason(Problem.EMPTY)
NOT_A_CODE, NOT_A_NUMBER = Reason(Problem.NOT_A_CODE), Reason(Problem.NOT_A_NUMBER)
TOO_FEW, NO_MORE = Reason(Problem.TOO_FEW), Reason(Problem.NO_MORE)


@dataclass(frozen=True)
class Frame:
    """One screen on the way, with every choice made before it."""

    screen: Screen
    page: int = 0
    contest: int = 0  # index into MenuContext.contests
    candidate: str | None = None
    quantity: int | None = None
    provider: str | None = None


@dataclass(frozen=True)
class MenuContext:
    contests: tuple[MenuContest, ...]  # the open contests the code offers, in listing order
    service_code: str
    operator: str | None = None  # the wallet of the caller's network, from the number (`PhoneWallets.wallet_of`)
    preference: Lang | None = None  # remembered for the number
    unavailable: MenuContest | None = None  # when nothing is open: the contest to explain
    free_left: tuple[tuple[int, int], ...] = ()  # (contest id, free votes the caller has left) where it has some


@dataclass(frozen=True)
class Position:
    """Where a caller is. `moved` and `refused` build the next one field by field, not by `dataclasses.replace`,
    which costs several times more on every answer a session walks through: a new field is carried there too."""

    stack: tuple[Frame, ...]
    lang_choice: Lang | None = None
    wrong: int = 0  # wrong answers in a row
    reason: Reason | None = None
    ending: Ending | None = None
    chose_language: bool = False  # the last input was a language choice (the route remembers it)

    @property
    def frame(self) -> Frame:
        return self.stack[-1]


def parse_path(text: str) -> tuple[str, ...]:
    """AT's `text`: "" on the first hit, then every input so far joined by "*" ("1*" ends with an empty one)."""
    return () if text == "" else tuple(part.strip() for part in text.split("*"))


def root(ctx: MenuContext) -> tuple[Frame, ...]:
    return (Frame(Screen.CONTESTS),) if len(ctx.contests) > 1 else (Frame(Screen.HOME),)


def start(ctx: MenuContext) -> Position:
    if not ctx.contests:
        return Position(root(ctx), ending=Ending.UNAVAILABLE)
    return Position(root(ctx))


def walk(ctx: MenuContext, inputs: Sequence[str]) -> Position:
    """Where the inputs lead from the first screen."""
    position = start(ctx)
    for raw in inputs:
        if position.ending is not None:
            break
        position = step(ctx, position, raw)
    return position


def contest_of(ctx: MenuContext, frame: Frame) -> MenuContest | None:
    if frame.screen is Screen.CONTESTS or not ctx.contests:
        return None
    return ctx.contests[frame.contest]


def language(ctx: MenuContext, position: Position) -> Lang:
    """The voter's choice this session, else the number's preference, else the contest's default."""
    chosen = position.lang_choice or ctx.preference
    if chosen is not None:
        return chosen
    contest = contest_of(ctx, position.frame) or ctx.unavailable or (ctx.contests[0] if ctx.contests else None)
    return contest.language if contest else Lang.FR


def page_count(ctx: MenuContext, position: Position) -> int:
    frame, t = position.frame, texts(language(ctx, position))
    if frame.screen is Screen.CONTESTS:
        return len(contest_pages(ctx.contests, t))
    if frame.screen in (Screen.CANDIDATE, Screen.FREE):
        return len(candidate_pages(ctx.contests[frame.contest], t))
    return 1


def step(ctx: MenuContext, position: Position, raw: str) -> Position:
    frame = position.frame
    if raw == HOME:
        return moved(position, home_stack(ctx, position))
    if raw == BACK:
        return moved(position, position.stack[:-1] or position.stack)
    paged = frame.screen in (Screen.CONTESTS, Screen.CANDIDATE, Screen.FREE)
    if raw == MORE and paged and frame.page + 1 < page_count(ctx, position):
        return moved(position, (*position.stack, replace(frame, page=frame.page + 1)))
    if raw == "":
        return refused(position, EMPTY)
    outcome = ANSWERS[frame.screen](ctx, position, raw)
    if isinstance(outcome, Reason):
        return refused(position, NO_MORE if raw == MORE and paged else outcome)
    return outcome


def moved(position: Position, stack: tuple[Frame, ...]) -> Position:
    """A valid answer: the wrong-answer count starts again."""
    return Position(stack, position.lang_choice, ending=position.ending)


def push(position: Position, frame: Frame) -> Position:
    return moved(position, (*position.stack, frame))


def refused(position: Position, reason: Reason) -> Position:
    wrong = position.wrong + 1
    ending = Ending.TOO_MANY_ERRORS if wrong >= MAX_WRONG else None
    return Position(position.stack, position.lang_choice, wrong, reason, ending)


def home_stack(ctx: MenuContext, position: Position) -> tuple[Frame, ...]:
    frame = position.frame
    if frame.screen is Screen.CONTESTS:
        return (Frame(Screen.CONTESTS),)
    home = Frame(Screen.HOME, contest=frame.contest)
    return (Frame(Screen.CONTESTS), home) if len(ctx.contests) > 1 else (home,)


def choice(raw: str, count: int) -> int | None:
    """A 1-based menu number within `count`, else None."""
    return int(raw) if is_keypad_number(raw) and 1 <= int(raw) <= count else None


def answer_contests(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    picked = choice(raw, len(ctx.contests))
    if picked is None:
        return INVALID_CHOICE
    return push(position, Frame(Screen.HOME, contest=picked - 1))


def answer_home(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    # "5" leads to the free vote wherever the contest gives free votes, though the menu shows it only while the caller
    # has one left: AT sends the whole path on every hop, so a "5" the caller saw, and took, is walked again after
    # the vote went (to another session of the number, say), and the free vote's own answer then says why not.
    picked = choice(raw, 5 if ctx.contests[position.frame.contest].may_give_free_votes else 4)
    if picked == 1 and not ctx.contests[position.frame.contest].providers:
        return replace(moved(position, position.stack), ending=Ending.NO_PAYMENT)
    if picked is None:
        return INVALID_CHOICE
    screen = (Screen.CANDIDATE, Screen.TOP, Screen.MINE, Screen.LANGUAGE, Screen.FREE)[picked - 1]
    return push(position, replace(position.frame, screen=screen, page=0))


def free_left(ctx: MenuContext, frame: Frame) -> int:
    """The caller's free votes left in the contest of `frame` (0: it gives none, or none are left)."""
    contest_id = ctx.contests[frame.contest].id
    return next((left for known, left in ctx.free_left if known == contest_id), 0)


def answer_language(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    chosen = next((lang for key, lang, _ in LANGUAGE_OPTIONS if key == raw), None)
    if chosen is None:
        return INVALID_CHOICE
    return replace(moved(position, home_stack(ctx, position)), lang_choice=chosen, chose_language=True)


def answer_candidate(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    if not is_keypad_number(raw):
        return NOT_A_CODE
    candidate = ctx.contests[position.frame.contest].candidate(raw)
    if candidate is None:
        return Reason(Problem.UNKNOWN_CODE, raw[:8])
    if not candidate.active:
        return Reason(Problem.ELIMINATED, candidate.code)
    return push(position, replace(position.frame, screen=Screen.QUANTITY, page=0, candidate=candidate.code))


def answer_free(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    """A candidate for the free vote: checked as a paid vote's, then the route takes it."""
    chosen = answer_candidate(ctx, position, raw)
    if isinstance(chosen, Reason):
        return chosen
    frame = replace(position.frame, candidate=chosen.frame.candidate)
    return replace(moved(position, (*position.stack[:-1], frame)), ending=Ending.FREE_VOTE)


def answer_quantity(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    maximum = ctx.contests[position.frame.contest].max_votes
    if not is_keypad_number(raw):
        return NOT_A_NUMBER
    quantity = int(raw)
    if quantity < 1:  # "0" alone means back; "000" is a zero quantity
        return TOO_FEW
    if quantity > maximum:
        return Reason(Problem.TOO_MANY, str(maximum))
    return push(position, replace(position.frame, screen=Screen.PROVIDER, quantity=quantity))


def answer_provider(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    offered = ctx.contests[position.frame.contest].providers
    picked = choice(raw, len(offered))
    if picked is None:
        return INVALID_CHOICE
    return push(position, replace(position.frame, screen=Screen.SUMMARY, provider=offered[picked - 1].provider))


def answer_summary(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    if raw != "1":
        return INVALID_CHOICE
    return replace(moved(position, position.stack), ending=Ending.PLACE_ORDER)


def answer_nothing(ctx: MenuContext, position: Position, raw: str) -> Position | Reason:
    """Top 5 and My votes only show; 0 and 00 (handled in `step`) are the ways out."""
    return INVALID_CHOICE


ANSWERS: dict[Screen, Callable[[MenuContext, Position, str], Position | Reason]] = {
    Screen.CONTESTS: answer_contests,
    Screen.HOME: answer_home,
    Screen.LANGUAGE: answer_language,
    Screen.CANDIDATE: answer_candidate,
    Screen.QUANTITY: answer_quantity,
    Screen.PROVIDER: answer_provider,
    Screen.SUMMARY: answer_summary,
    Screen.TOP: answer_nothing,
    Screen.MINE: answer_nothing,
    Screen.FREE: answer_free,
}
