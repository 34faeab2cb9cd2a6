"""Callback data (each packs to well under Telegram's 64 bytes: ids and codes, never names) and the
inline keyboards built from it."""

from __future__ import annotations

from collections.abc import Collection

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from channels.telegram.contest_settings import offers_mobile_money_setting
from channels.telegram.texts import Texts
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.texts import format_money
from gateway.db.models import CandidateStatus

PAGE_SIZE = 8
QUICK_QUANTITIES = (1, 5, 10, 50)
# How a voter chose to pay (`PayPick.how`): in the chat (the provider paid in it: Stars), or by mobile money. Kept in
# the buttons of messages already sent, so these values never change.
IN_CHAT = "stars"
MOBILE_MONEY = "momo"


def offers_mobile_money(contest: PublicContest, phone_paid: Collection[str]) -> bool:
    """Only where the organiser opted in (Telegram wants Stars for digital goods) and a wallet is enabled
    (`phone_paid`: the providers that charge a phone's wallet)."""
    return offers_mobile_money_setting(contest.channel_fields) and any(p in contest.providers for p in phone_paid)


class ContestPick(CallbackData, prefix="c"):
    contest: int
    page: int = 0


class CandidatePick(CallbackData, prefix="v"):
    contest: int
    code: str


class CandidateAbout(CallbackData, prefix="i"):
    contest: int
    code: str


class QuantityPick(CallbackData, prefix="q"):
    contest: int
    code: str
    n: int


class PayPick(CallbackData, prefix="p"):
    contest: int
    code: str
    n: int
    how: str


def contests_keyboard(contests: list[PublicContest]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for contest in contests:
        builder.button(text=contest.name, callback_data=ContestPick(contest=contest.id))
    builder.adjust(1)
    return builder.as_markup()


def votable(contest: PublicContest) -> list[PublicCandidate]:
    return [candidate for candidate in contest.candidates if candidate.status is CandidateStatus.ACTIVE]


def candidates_keyboard(contest: PublicContest, page: int, t: Texts) -> InlineKeyboardMarkup:
    """One page of candidates, with "More" while there are more and "Back" after the first page."""
    candidates = votable(contest)
    shown = candidates[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    builder = InlineKeyboardBuilder()
    for candidate in shown:
        builder.button(text=f"{candidate.code} {candidate.name}",
                       callback_data=CandidatePick(contest=contest.id, code=candidate.code))
    if page > 0:
        builder.button(text=t.back, callback_data=ContestPick(contest=contest.id, page=page - 1))
    if (page + 1) * PAGE_SIZE < len(candidates):
        builder.button(text=t.more, callback_data=ContestPick(contest=contest.id, page=page + 1))
    builder.adjust(*([1] * len(shown)), 2)
    return builder.as_markup()


def quick_quantities(contest: PublicContest) -> list[int]:
    """The quantity buttons: the contest's bundles where it has some (every channel offers the same), else a few
    usual numbers; a voter may type any other."""
    offered = [tier.votes for tier in contest.price_tiers] or list(QUICK_QUANTITIES)
    return [n for n in offered if n <= contest.max_votes_per_order]


def quantities_keyboard(contest: PublicContest, candidate: PublicCandidate, t: Texts,
                        phone_paid: Collection[str] = ()) -> InlineKeyboardMarkup:
    """Where the bot sells bundles by mobile money (`phone_paid`: the providers that charge a phone's wallet), each
    button says its price, a bundle's amount being what the wallet is asked ("10 · FCFA 900"); Stars are priced per
    vote, so otherwise a button is its number alone."""
    builder = InlineKeyboardBuilder()
    quick = quick_quantities(contest)
    prices = {}
    if contest.price_tiers and offers_mobile_money(contest, phone_paid):
        prices = {n: format_money(contest.amount_of(n), contest.currency, t.lang) for n in quick}
    for n in quick:
        label = f"{n} · {prices[n]}" if n in prices else str(n)
        builder.button(text=label, callback_data=QuantityPick(contest=contest.id, code=candidate.code, n=n))
    builder.button(text=t.about.format(name=candidate.name),
                   callback_data=CandidateAbout(contest=contest.id, code=candidate.code))
    builder.button(text=t.back, callback_data=ContestPick(contest=contest.id))
    builder.adjust(len(quick) or 1, 1, 1)
    return builder.as_markup()


def payment_keyboard(contest: PublicContest, code: str, quantity: int, t: Texts,
                     momo_total: str | None, phone_paid: Collection[str]) -> InlineKeyboardMarkup:
    """Stars always (Telegram's rule for digital goods); mobile money only where the organiser allows it."""
    builder = InlineKeyboardBuilder()
    total = quantity * (contest.stars_per_vote or 0)
    builder.button(text=t.pay_stars.format(total=stars(total)),
                   callback_data=PayPick(contest=contest.id, code=code, n=quantity, how=IN_CHAT))
    if momo_total is not None and offers_mobile_money(contest, phone_paid):
        builder.button(text=t.pay_momo.format(total=momo_total),
                       callback_data=PayPick(contest=contest.id, code=code, n=quantity, how=MOBILE_MONEY))
    builder.button(text=t.back, callback_data=CandidatePick(contest=contest.id, code=code))
    builder.adjust(1)
    return builder.as_markup()


def stars(amount: int) -> str:
    return f"{amount} ⭐"


def share_number_keyboard(t: Texts) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=t.share_number, request_contact=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


def payment_page_keyboard(t: Texts, url: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t.open_payment_page, url=url)
    return builder.as_markup()
