"""Free votes in the bot: `/free` asks for the user's phone number (their own contact, or typed), texts it a code
(gateway.kit.phone_proof, as the web's free vote and an entry do: the proof of the number is the code, since a
Telegram account proves no number), then takes the free vote for the candidate whose code the user sends
(gateway.core.orders.free_votes). No invoice, no provider, no order."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message, ReplyKeyboardRemove
from redis.asyncio import Redis
from rq import Queue

from channels.telegram.contest_settings import CHANNEL
from channels.telegram.free_vote_texts import FreeTexts, free_texts
from channels.telegram.given_numbers import given_number
from channels.telegram.keyboards import share_number_keyboard
from channels.telegram.refusals import refusal_text
from channels.telegram.texts import language_of, not_a_number, texts
from gateway.core.contests.catalog import PublicContest
from gateway.core.errors import DomainError
from gateway.core.orders import free_votes
from gateway.core.phone import InvalidMsisdn
from gateway.core.phone_texts import TEXT_CODE_PASS
from gateway.core.service import VoteService
from gateway.core.worker_passes import enqueue_pass
from gateway.db.engine import Sessions
from gateway.kit import phone_proof
from gateway.kit.phone_proof import CODE_SECONDS

PURPOSE = "free_vote"  # the web's too: a code proves a number for free votes, whichever channel asked for it


class FreeVoting(StatesGroup):
    phone = State()  # /free: a shared contact or a typed number
    code = State()  # the code texted to it
    candidate = State()  # the number is proven: a candidate's code takes the free vote


@dataclass(frozen=True)
class FreeVoteKit:
    """What the free vote needs beside the vote service: the database, Redis (the codes), the worker's queue (the
    text), the service's secret (the proofs' key) and the day's budget of codes of a contest."""

    sessions: Sessions
    redis: Redis
    queue: Queue
    secret_key: str
    codes_per_day: int


async def giving_contest(service: VoteService, kit: FreeVoteKit) -> tuple[PublicContest, free_votes.FreeTerms] | None:
    """The first open contest that gives free votes now (a show runs one at a time), or None."""
    for contest in await service.public_contests():
        terms = await free_votes.free_terms(kit.sessions, contest.slug)
        if terms is not None:
            return contest, terms
    return None


async def start_free(message: Message, vote_service: VoteService, free_kit: FreeVoteKit, state: FSMContext) -> None:
    f = free_texts(language_of(message.from_user.language_code if message.from_user else None))
    found = await giving_contest(vote_service, free_kit)
    if found is None:
        await message.answer(f.none)
        return
    contest, _ = found
    await state.set_state(FreeVoting.phone)
    await state.update_data(free_contest=contest.slug)
    t = texts(language_of(message.from_user.language_code if message.from_user else None))
    await message.answer(f.ask_number.format(contest=contest.name), reply_markup=share_number_keyboard(t))


async def free_number(message: Message, vote_service: VoteService, free_kit: FreeVoteKit, state: FSMContext) -> None:
    """The number to prove: the user's own contact, or typed; a code is texted to it."""
    lang = language_of(message.from_user.language_code if message.from_user else None)
    f, t = free_texts(lang), texts(lang)
    if message.contact is not None and (message.from_user is None or message.contact.user_id != message.from_user.id):
        await message.answer(t.not_your_number)
        return
    slug = str((await state.get_data()).get("free_contest", ""))
    contest = await vote_service.contest(slug)
    try:  # as the paying number is read
        msisdn = given_number(message, contest.country)
    except InvalidMsisdn:
        await message.answer(not_a_number(t, contest.country))
        return
    try:
        code = await phone_proof.new_code(free_kit.redis, msisdn, PURPOSE, f"telegram:{message.chat.id}",
                                          per_day=free_kit.codes_per_day, scope=f"contest:{contest.id}")
    except DomainError:
        await message.answer(f.too_many_codes, reply_markup=ReplyKeyboardRemove())
        return
    await asyncio.to_thread(enqueue_pass, free_kit.queue, TEXT_CODE_PASS, msisdn,
                            free_votes.code_text(lang.value, code, contest.name), str(uuid.uuid4()),
                            job_timeout=120, result_ttl=60, failure_ttl=CODE_SECONDS)
    await state.set_state(FreeVoting.code)
    await state.update_data(free_msisdn=msisdn)
    await message.answer(f.code_sent.format(number=msisdn), reply_markup=ReplyKeyboardRemove())


async def free_code(message: Message, free_kit: FreeVoteKit, state: FSMContext) -> None:
    f = free_texts(language_of(message.from_user.language_code if message.from_user else None))
    msisdn = str((await state.get_data()).get("free_msisdn", ""))
    try:
        await phone_proof.prove(free_kit.redis, free_kit.secret_key, msisdn, PURPOSE, message.text or "",
                                datetime.now(UTC))
    except phone_proof.WrongCode:
        await message.answer(f.wrong_code)
        return
    await state.set_state(FreeVoting.candidate)
    await message.answer(f.ask_candidate)


async def free_candidate(message: Message, vote_service: VoteService, free_kit: FreeVoteKit,
                         state: FSMContext) -> None:
    lang = language_of(message.from_user.language_code if message.from_user else None)
    f = free_texts(lang)
    data = await state.get_data()
    contest = await vote_service.contest(str(data.get("free_contest", "")))
    typed = (message.text or "").strip()
    code = next((c.code for c in contest.candidates if c.code == typed or (
        typed.isdigit() and c.code.isdigit() and int(c.code) == int(typed))), typed)
    try:
        taken = await free_votes.take_free_vote(free_kit.sessions, free_votes.FreeVoteRequest(
            contest.slug, code, str(data.get("free_msisdn", "")), CHANNEL))
    except DomainError as exc:
        await state.clear()
        await message.answer(refused(f, exc) or refusal_text(texts(lang), exc, contest, vote_service))
        return
    await state.clear()
    await message.answer(f.taken.format(code=taken.candidate_code, name=taken.candidate_name, left=taken.left))


def refused(f: FreeTexts, exc: DomainError) -> str | None:
    """The free vote's own refusals; a vote's (blocked, closed, no such candidate) are said as a paid vote's."""
    if isinstance(exc, free_votes.FreeVoteUsed):
        return f.used_round if exc.per is free_votes.FreePer.ROUND else f.used_today
    return f.none if exc.code == "no_free_votes" else None


def build_free_router() -> Router:
    """Included before the conversation's router, whose last handler takes every message."""
    router = Router(name="free_votes")
    router.message.register(start_free, Command("free"))
    not_a_command = ~F.text.startswith("/")
    router.message.register(free_number, FreeVoting.phone, F.contact)
    router.message.register(free_number, FreeVoting.phone, F.text, not_a_command)
    router.message.register(free_code, FreeVoting.code, F.text, not_a_command)
    router.message.register(free_candidate, FreeVoting.candidate, F.text, not_a_command)
    return router
