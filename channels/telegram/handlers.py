"""The conversation: /start lists open contests, a contest its candidates, a candidate asks how many
votes, then how to pay; Stars invoices are checked before the charge and settled from the chat.
Every callback query is answered (else the user's button spins)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, PreCheckoutQuery, ReplyKeyboardRemove, User

from channels.phone.texts import provider_label
from channels.telegram.contest_settings import CHANNEL
from channels.telegram.given_numbers import given_number
from channels.telegram.how_to_vote import read_start_payload
from channels.telegram.keyboards import (
    IN_CHAT,
    MOBILE_MONEY,
    CandidateAbout,
    CandidatePick,
    ContestPick,
    PayPick,
    QuantityPick,
    candidates_keyboard,
    contests_keyboard,
    offers_mobile_money,
    payment_keyboard,
    payment_page_keyboard,
    quantities_keyboard,
    share_number_keyboard,
    stars,
    votable,
)
from channels.telegram.refusals import refusal_text, takes_text
from channels.telegram.texts import (
    Texts,
    how_to_pay,
    language_of,
    my_votes_line,
    not_a_number,
    own_language,
    prompt_sent,
    texts,
)
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.contests.rules import VotingState, voting_state
from gateway.core.errors import DomainError
from gateway.core.market import of_country
from gateway.core.money_in.in_chat import ChatPayment, ChatPaymentOutcome
from gateway.core.orders.placing import OrderRequest
from gateway.core.phone import DEFAULT_REGION, InvalidMsisdn
from gateway.core.providers import Capability
from gateway.core.service import VoteService
from gateway.core.texts import format_money
from gateway.kit.phone_wallets import PhoneWallets


class Voting(StatesGroup):
    quantity = State()  # a candidate is chosen: a typed number is the number of votes
    phone = State()  # mobile money chosen: a shared contact or a typed number is the payer


def texts_for(user: User | None) -> Texts:
    return texts(language_of(user.language_code if user else None))


async def edit_menu(query: CallbackQuery, message_id: int, text: str, markup: InlineKeyboardMarkup) -> None:
    """Show the next step in the menu's own message. A button pressed twice would leave it unchanged,
    which Telegram answers with an error: the menu already shows it, so that one is not a failure."""
    try:
        await query.bot.edit_message_text(text=text, chat_id=query.from_user.id,  # type: ignore[union-attr]
                                          message_id=message_id, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


async def open_contests(service: VoteService) -> list[PublicContest]:
    """Contests taking votes now and sold in Stars."""
    now = datetime.now(UTC)
    return [contest for contest in await service.public_contests()
            if contest.stars_per_vote and voting_state(contest.status, contest.opens_at, contest.closes_at, now)
            is VotingState.OPEN]


async def nothing_open(service: VoteService, t: Texts) -> str:
    """What a voter is told when no contest takes votes: a pause is a moment, not the end of the show."""
    now = datetime.now(UTC)
    paused = [contest for contest in await service.public_contests()
              if contest.stars_per_vote and voting_state(contest.status, contest.opens_at, contest.closes_at, now)
              is VotingState.PAUSED]
    return t.paused.format(contest=paused[0].name) if paused else t.no_contests


async def find_contest(service: VoteService, contest_id: int) -> PublicContest | None:
    """The open contest with its candidates (None once it closed: the menu is out of date)."""
    for contest in await open_contests(service):
        if contest.id == contest_id:
            return await service.contest(contest.slug, channel_fields=True)  # whether the bot offers mobile money
    return None


def phone_paid(service: VoteService) -> tuple[str, ...]:  # the bot's mobile money, where its organiser allows it
    return tuple(service.providers_having(Capability.PHONE_PROMPT))


def find_candidate(contest: PublicContest, code: str) -> PublicCandidate | None:
    return next((candidate for candidate in votable(contest) if candidate.code == code), None)


async def start(message: Message, vote_service: VoteService, state: FSMContext,
                command: CommandObject | None = None) -> None:
    """The open contests; a candidate's page link (`/start v<contest id>_<code>`) goes straight to its votes."""
    await state.clear()
    t = texts_for(message.from_user)
    linked = read_start_payload(command.args if command else None)
    contest = await find_contest(vote_service, linked[0]) if linked else None
    candidate = find_candidate(contest, linked[1]) if contest and linked else None
    if contest is not None and candidate is not None:
        await state.set_state(Voting.quantity)
        await state.update_data(contest=contest.id, code=candidate.code)
        await message.answer(t.how_many.format(name=f"{candidate.code} {candidate.name}",
                                               maximum=contest.max_votes_per_order) + "\n" + t.other_quantity,
                             reply_markup=quantities_keyboard(contest, candidate, t, phone_paid(vote_service)))
        return
    contests = await open_contests(vote_service)
    if not contests:
        await message.answer(await nothing_open(vote_service, t))
        return
    await message.answer(t.welcome, reply_markup=contests_keyboard(contests))


async def show_contest(query: CallbackQuery, callback_data: ContestPick, vote_service: VoteService,
                       state: FSMContext) -> None:
    t = texts_for(query.from_user)
    contest = await find_contest(vote_service, callback_data.contest)
    if contest is None or query.message is None:
        await query.answer(t.expired_button, show_alert=True)
        return
    await state.clear()
    text = t.contest.format(name=contest.name, price=stars(contest.stars_per_vote or 0)) + "\n" + t.choose_candidate
    await edit_menu(query, query.message.message_id, text, candidates_keyboard(contest, callback_data.page, t))
    await query.answer()


async def pick_candidate(query: CallbackQuery, callback_data: CandidatePick, vote_service: VoteService,
                         state: FSMContext) -> None:
    t = texts_for(query.from_user)
    contest = await find_contest(vote_service, callback_data.contest)
    candidate = find_candidate(contest, callback_data.code) if contest else None
    if contest is None or candidate is None or query.message is None:
        await query.answer(t.expired_button, show_alert=True)
        return
    await state.set_state(Voting.quantity)
    await state.update_data(contest=contest.id, code=candidate.code)
    await edit_menu(query, query.message.message_id,
                    t.how_many.format(name=f"{candidate.code} {candidate.name}", maximum=contest.max_votes_per_order)
                    + "\n" + t.other_quantity, quantities_keyboard(contest, candidate, t, phone_paid(vote_service)))
    await query.answer()


async def about_candidate(query: CallbackQuery, callback_data: CandidateAbout, vote_service: VoteService) -> None:
    t = texts_for(query.from_user)
    contest = await find_contest(vote_service, callback_data.contest)
    candidate = find_candidate(contest, callback_data.code) if contest else None
    if candidate is None:
        await query.answer(t.expired_button, show_alert=True)
        return
    caption = f"{candidate.code} {candidate.name}\n{candidate.bio or t.no_bio}"
    if candidate.photo_url:
        await query.bot.send_photo(query.from_user.id, candidate.photo_url, caption=caption[:1024])  # type: ignore[union-attr]
    else:
        await query.bot.send_message(query.from_user.id, caption)  # type: ignore[union-attr]
    await query.answer()


async def offer_payment(chat_id: int, message_id: int | None, contest: PublicContest, candidate: PublicCandidate,
                        quantity: int, t: Texts, query: CallbackQuery | None, message: Message | None,
                        phone_paid: Collection[str]) -> None:
    text = how_to_pay(t, quantity, f"{candidate.code} {candidate.name}",
                      stars(quantity * (contest.stars_per_vote or 0)))
    momo_total = format_money(contest.amount_of(quantity), contest.currency, t.lang)  # a bundle's for its votes
    markup = payment_keyboard(contest, candidate.code, quantity, t, momo_total, phone_paid)
    if query is not None and message_id is not None:
        await edit_menu(query, message_id, text, markup)
    elif message is not None:
        await message.answer(text, reply_markup=markup)


async def pick_quantity(query: CallbackQuery, callback_data: QuantityPick, vote_service: VoteService,
                        state: FSMContext) -> None:
    t = texts_for(query.from_user)
    contest = await find_contest(vote_service, callback_data.contest)
    candidate = find_candidate(contest, callback_data.code) if contest else None
    if contest is None or candidate is None or query.message is None \
            or not 1 <= callback_data.n <= contest.max_votes_per_order:
        await query.answer(t.expired_button, show_alert=True)
        return
    await state.clear()
    await offer_payment(query.from_user.id, query.message.message_id, contest, candidate, callback_data.n, t,
                        query, None, vote_service.providers_having(Capability.PHONE_PROMPT))
    await query.answer()


async def typed_quantity(message: Message, vote_service: VoteService, state: FSMContext) -> None:
    t = texts_for(message.from_user)
    data = await state.get_data()
    contest = await find_contest(vote_service, int(data.get("contest", 0)))
    candidate = find_candidate(contest, str(data.get("code", ""))) if contest else None
    if contest is None or candidate is None:
        await state.clear()
        await message.answer(t.expired_button)
        return
    text = (message.text or "").strip()
    # 0-9 only: `str.isdigit` also takes a superscript, which `int` then refuses.
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= contest.max_votes_per_order:
        await message.answer(t.not_a_quantity.format(maximum=contest.max_votes_per_order))
        return
    await state.clear()
    await offer_payment(message.chat.id, None, contest, candidate, int(text), t, None, message,
                        phone_paid(vote_service))


async def pay_in_stars(query: CallbackQuery, callback_data: PayPick, vote_service: VoteService) -> None:
    """Place the order; the provider paid in the chat (Stars) sends its invoice to this chat at once."""
    t = texts_for(query.from_user)
    contest = await find_contest(vote_service, callback_data.contest)
    in_chat = vote_service.providers_having(Capability.IN_CHAT)
    if contest is None or not in_chat:
        await query.answer(t.expired_button, show_alert=True)
        return
    request = OrderRequest(contest.slug, callback_data.code, callback_data.n, in_chat[0], CHANNEL,
                           voter_ref=str(query.from_user.id), client_key=f"telegram:{query.id}",
                           language=own_language(query.from_user.language_code))
    try:
        await vote_service.place_vote(request)
    except DomainError as exc:
        await query.answer(refusal_text(t, exc, contest, vote_service)[:200], show_alert=True)
        return
    await query.answer(t.invoice_sent)


async def pay_by_mobile_money(query: CallbackQuery, callback_data: PayPick, vote_service: VoteService,
                              state: FSMContext) -> None:
    """Ask for the payer's number: the contact button (their own only) or typed."""
    t = texts_for(query.from_user)
    contest = await find_contest(vote_service, callback_data.contest)
    if contest is None or not offers_mobile_money(contest, vote_service.providers_having(Capability.PHONE_PROMPT)):
        await query.answer(t.expired_button, show_alert=True)
        return
    await state.set_state(Voting.phone)
    await state.update_data(contest=contest.id, code=callback_data.code, n=callback_data.n)
    await query.bot.send_message(query.from_user.id, t.ask_number,  # type: ignore[union-attr]
                                 reply_markup=share_number_keyboard(t))
    await query.answer()


async def payer_number(message: Message, vote_service: VoteService, state: FSMContext,
                       phone_wallets: PhoneWallets) -> None:
    """The payer's number, shared (it must be the user's own contact) or typed; then the MoMo push."""
    t = texts_for(message.from_user)
    if message.contact is not None and (message.from_user is None or message.contact.user_id != message.from_user.id):
        await message.answer(t.not_your_number)
        return
    data = await state.get_data()
    contest = await find_contest(vote_service, int(data.get("contest", 0)))
    try:
        msisdn = given_number(message, contest.country if contest else DEFAULT_REGION)
    except InvalidMsisdn:
        await message.answer(not_a_number(t, contest.country if contest else DEFAULT_REGION))
        return
    network_wallet = phone_wallets.wallet_of(msisdn)  # its network's wallet pays
    wallets = vote_service.providers_having(Capability.PHONE_PROMPT)
    if contest is None:
        await message.answer(t.expired_button)
        return
    if (not of_country(msisdn, contest.country) or network_wallet is None or network_wallet not in contest.providers
            or network_wallet not in wallets):  # another country's number, a network none of its wallets serves
        await message.answer(takes_text(t, contest, vote_service))
        return
    await state.clear()
    request = OrderRequest(contest.slug, str(data.get("code", "")), int(data.get("n", 0)), network_wallet,
                           CHANNEL, msisdn=msisdn, voter_ref=str(message.chat.id),
                           client_key=f"telegram:{message.chat.id}:{message.message_id}",
                           language=own_language(message.from_user.language_code if message.from_user else None))
    try:
        placed = await vote_service.place_vote(request)
    except DomainError as exc:
        await message.answer(refusal_text(t, exc, contest, vote_service), reply_markup=ReplyKeyboardRemove())
        return
    if placed.started is not None and placed.started.redirect_url:
        await message.answer(t.payment_page, reply_markup=payment_page_keyboard(t, placed.started.redirect_url))
    else:
        order = placed.order
        total = format_money(order.amount, order.currency, t.lang)
        label = provider_label(order.provider, vote_service.provider_label(order.provider))
        await message.answer(prompt_sent(t, msisdn, vote_service.approval(order.provider), label, total),
                             reply_markup=ReplyKeyboardRemove())


async def before_charge(query: PreCheckoutQuery, vote_service: VoteService) -> None:
    """Telegram waits at most 10 s for this answer: one core check, nothing else."""
    t = texts_for(query.from_user)
    refusal = await vote_service.check_before_charge(query.invoice_payload, query.total_amount, query.currency)
    if refusal is None:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=t.refused.format(reason=t.pay_refusals[refusal]))


async def paid(message: Message, vote_service: VoteService, decided: Callable[[], None]) -> None:
    """Counted once by the core (the charge id is the provider's transaction id); late: refunded."""
    payment = message.successful_payment
    assert payment is not None
    t = texts_for(message.from_user)
    in_chat = vote_service.providers_having(Capability.IN_CHAT)
    if not in_chat:  # no provider is paid in the chat here: nothing of ours was invoiced
        await message.answer(t.not_counted)
        return
    outcome, _ = await vote_service.settle_chat_payment(in_chat[0], ChatPayment(
        payment.invoice_payload, payment.telegram_payment_charge_id, payment.total_amount, payment.currency))
    if outcome is ChatPaymentOutcome.COUNTED:
        decided()
    reply = {ChatPaymentOutcome.COUNTED: t.paid, ChatPaymentOutcome.REFUNDED: t.refunded_late,
             ChatPaymentOutcome.NOT_COUNTED: t.not_counted, ChatPaymentOutcome.NOT_OURS: t.not_counted}.get(outcome)
    if reply is not None:
        await message.answer(reply)


async def my_votes(message: Message, vote_service: VoteService) -> None:
    t = texts_for(message.from_user)
    orders = await vote_service.chat_orders(str(message.chat.id))
    if not orders:
        await message.answer(t.my_votes_empty)
        return
    lines = [my_votes_line(t, order.reference, order.quantity, order.candidate_code, order.candidate_name,
                           t.statuses.get(order.status.value, "")) for order in orders]
    await message.answer("\n".join([t.my_votes_title, *lines]))


async def top(message: Message, vote_service: VoteService) -> None:
    """The first five of each open contest, ranked as the board ranks them."""
    t = texts_for(message.from_user)
    contests = await open_contests(vote_service)
    if not contests:
        await message.answer(await nothing_open(vote_service, t))
        return
    parts = []
    for contest in contests[:3]:
        board = await vote_service.top(contest.id, 5)
        rows = [(t.top_line if board.show_counts else t.top_line_hidden).format(
            rank=row.rank, code=row.candidate.code, name=row.candidate.name, votes=row.votes) for row in board.rows]
        rows = [t.top_sealed] if board.sealed else rows or [t.top_empty]
        parts.append("\n".join([t.top_title.format(contest=contest.name), *rows]))
    await message.answer("\n\n".join(parts))


async def pay_support(message: Message) -> None:
    await message.answer(texts_for(message.from_user).paysupport)


async def stale_button(query: CallbackQuery) -> None:
    """A button from an older version of a menu: still answered."""
    await query.answer(texts_for(query.from_user).expired_button, show_alert=True)


async def anything_else(message: Message) -> None:
    await message.answer(texts_for(message.from_user).unknown)


def build_router() -> Router:
    """The bot's handlers, on a router of its own for each dispatcher (a router joins only one)."""
    router = Router(name="ballot")
    router.message.register(start, CommandStart())
    router.callback_query.register(show_contest, ContestPick.filter())
    router.callback_query.register(pick_candidate, CandidatePick.filter())
    router.callback_query.register(about_candidate, CandidateAbout.filter())
    router.callback_query.register(pick_quantity, QuantityPick.filter())
    router.message.register(typed_quantity, Voting.quantity, F.text, ~F.text.startswith("/"))
    router.callback_query.register(pay_in_stars, PayPick.filter(F.how == IN_CHAT))
    router.callback_query.register(pay_by_mobile_money, PayPick.filter(F.how == MOBILE_MONEY))
    router.message.register(payer_number, Voting.phone, F.contact)
    router.message.register(payer_number, Voting.phone, F.text, ~F.text.startswith("/"))
    router.pre_checkout_query.register(before_charge)
    router.message.register(paid, F.successful_payment)
    router.message.register(my_votes, Command("myvotes"))
    router.message.register(top, Command("top"))
    router.message.register(pay_support, Command("paysupport"))
    router.callback_query.register(stale_button)
    router.message.register(anything_else)
    return router
