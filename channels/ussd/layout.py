"""Screen sizes: every screen fits 160 characters with its `CON `/`END ` prefix, and long lists are cut
into pages. Pure, and shared by the walk (which must know how many pages a list has) and the screens."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from channels.phone.gsm7 import clip, septets
from channels.ussd.texts import Texts
from channels.ussd.views import MenuContest

SCREEN_LIMIT = 160  # characters, prefix included (AT allows 182; handsets differ)
PREFIX_LENGTH = len("CON ")
TEXT_BUDGET = SCREEN_LIMIT - PREFIX_LENGTH
# Room kept on every list page for the one-line reason of a re-asked question.
REASON_LIMIT = 31
LIST_BUDGET = TEXT_BUDGET - (REASON_LIMIT + 1)
LIST_NAME_WIDTH = 20

Page = tuple[str, ...]


def length(lines: Sequence[str]) -> int:
    return septets("\n".join(lines))


def fits(lines: Sequence[str], budget: int = TEXT_BUDGET) -> bool:
    return length(lines) <= budget


def paginate(header: Sequence[str], items: Sequence[str], more: Sequence[str], last: Sequence[str],
             budget: int = LIST_BUDGET) -> tuple[Page, ...]:
    """Greedy pages of `header + items + footer`; `more` ends every page but the last."""
    pages: list[Page] = []
    start = 0
    while True:
        rest = list(items[start:])
        if fits([*header, *rest, *last], budget):
            pages.append((*header, *rest, *last))
            return tuple(pages)
        taken: list[str] = []
        while start < len(items) and fits([*header, *taken, items[start], *more], budget):
            taken.append(items[start])
            start += 1
        if not taken:  # an item too long for any page: cut it rather than loop forever
            room = budget - length([*header, *more]) - 1
            taken.append(clip(items[start], max(room, 1)))
            start += 1
        pages.append((*header, *taken, *more))


def contest_pages(contests: Sequence[MenuContest], t: Texts) -> tuple[Page, ...]:
    items = [f"{index} {clip(c.name, 30)}" for index, c in enumerate(contests, start=1)]
    return paginate([t.choose_contest], items, [t.more], [])


def candidate_pages(contest: MenuContest, t: Texts) -> tuple[Page, ...]:
    items = [f"{c.code} {clip(c.name, LIST_NAME_WIDTH)}" for c in contest.listed]
    return paginate([t.enter_code], items, [f"{t.more} {t.back}"], [t.back])


def fit_width(render: Callable[[int], Sequence[str]], widths: Sequence[int], budget: int = TEXT_BUDGET) -> int:
    """The widest name width whose rendering fits; the narrowest otherwise."""
    for width in widths:
        if fits(render(width), budget):
            return width
    return widths[-1]
