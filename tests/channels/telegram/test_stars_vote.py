"""A voter in the bot: browse, choose, pay in Stars, get the receipt; the board moves once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from assembly.settings import Settings
from assembly.worker.job_runtime import build_receipt_senders
from channels.telegram.fake_api import FakeBotApi
from channels.telegram.models import TelegramUpdate
from gateway.core.orders.receipts import send_receipt
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, OrderStatus, OutboxMessage, VoteOrder
from tests.factories import make_contest, tallies
from tests.provider_registry import registry_of

USER = 5550001


async def choose_votes(telegram: FakeBotApi, contest_name: str, candidate: str, votes: str) -> None:
    assert await telegram.say(USER, "/start") == 200
    await telegram.press(USER, contest_name)
    await telegram.press(USER, candidate)
    await telegram.press(USER, votes)


async def orders(sessions: Sessions) -> list[VoteOrder]:
    async with sessions() as session:
        return list((await session.scalars(select(VoteOrder))).all())


async def test_a_vote_paid_in_stars_is_counted_with_a_receipt(telegram: FakeBotApi, sessions: Sessions,
                                                              bot_settings: Settings) -> None:
    contest = await make_contest(sessions, candidates=10, stars_per_vote=10, name="Star Quest")
    assert await telegram.say(USER, "/start") == 200
    assert telegram.last_message(USER).text == "Welcome! Choose a contest to vote in:"
    await telegram.press(USER, "Star Quest")
    shown = telegram.last_message(USER)
    assert "One vote: 10 ⭐" in shown.text
    labels = [label for label, _ in shown.buttons]
    assert labels[:8] == [f"{n:02d} Candidate {n:02d}" for n in range(1, 9)] and "More »" in labels
    await telegram.press(USER, "More »")
    assert [label for label, _ in telegram.last_message(USER).buttons][:2] == ["09 Candidate 09", "10 Candidate 10"]
    await telegram.press(USER, "« Back")
    await telegram.press(USER, "07 Candidate 07")
    assert "How many votes for 07 Candidate 07? (1 to 100)" in telegram.last_message(USER).text
    await telegram.press(USER, "5")
    assert telegram.last_message(USER).text.startswith("5 votes for 07 Candidate 07: 50 ⭐")
    await telegram.press(USER, "Pay 50 ⭐ in Telegram Stars")

    invoice = telegram.last_invoice(USER)
    [order] = await orders(sessions)
    assert (invoice["currency"], invoice["total_amount"], invoice["provider_token"]) == ("XTR", 50, "")
    assert invoice["payload"] == str(order.payment_reference)
    assert all(len(call.params["reply_markup"]["inline_keyboard"][0][0].get("callback_data", "").encode()) <= 64
               for call in telegram.calls if isinstance(call.params.get("reply_markup"), dict))

    assert await telegram.pay(USER)
    assert telegram.last_message(USER).text == "Payment received, thank you! Your receipt follows."
    assert (await tallies(sessions, contest.id))["07"] == 5
    [order] = await orders(sessions)
    assert order.status is OrderStatus.PAID and order.provider_txn_id.startswith("stxFAKE")  # type: ignore[union-attr]

    await send_receipts(sessions, bot_settings)
    receipt = telegram.last_message(USER).text
    # The receipt is sent later by a job, in the user's own language (the contest's is French).
    assert receipt == (f"Receipt {order.id.hex[:8].upper()}\n"
                       "5 votes for 07 Candidate 07 counted in Star Quest. Thank you!")
    await send_receipts(sessions, bot_settings)  # the job runs again: no second receipt
    assert telegram.texts(USER).count(receipt) == 1

    await telegram.say(USER, "/top")
    assert "1. 07 Candidate 07: 5" in telegram.last_message(USER).text
    await telegram.say(USER, "/myvotes")
    assert "5 votes for 07 Candidate 07 (counted)" in telegram.last_message(USER).text
    assert not [call for call in telegram.calls_of("answerCallbackQuery")
                if "out of date" in str(call.get("text"))]
    answered = {call["callback_query_id"] for call in telegram.calls_of("answerCallbackQuery")}
    assert answered == set(telegram.query_users) and len(answered) == 6  # every button press answered


async def send_receipts(sessions: Sessions, settings: Settings) -> None:
    """What the worker's receipt job does with the outbox rows of the decided orders."""
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "order.paid"))).all()
    async with httpx.AsyncClient() as http:
        senders = build_receipt_senders(settings, sessions, http)
        for row in rows:
            assert await send_receipt(sessions, senders, row.topic, row.payload, registry_of())


async def test_a_user_in_a_language_we_have_no_texts_for_gets_the_contests_receipt(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings) -> None:
    await make_contest(sessions, candidates=10, stars_per_vote=10, name="Star Quest")  # in French
    await telegram.say(USER, "/start", language_code="de")
    for label in ("Star Quest", "07 Candidate 07", "5", "Payer 50 ⭐ en Telegram Stars"):
        await telegram.press(USER, label, language_code="de")
    assert await telegram.pay(USER)
    [order] = await orders(sessions)
    assert order.language is None
    await send_receipts(sessions, bot_settings)
    assert telegram.last_message(USER).text == (f"Reçu {order.id.hex[:8].upper()}\n"
                                                "5 votes pour 07 Candidate 07 comptés dans Star Quest. Merci !")


async def test_a_swahili_user_gets_the_receipt_in_swahili(telegram: FakeBotApi, sessions: Sessions,
                                                           bot_settings: Settings) -> None:
    await make_contest(sessions, candidates=10, stars_per_vote=10, name="Star Quest")  # in French
    await telegram.say(USER, "/start", language_code="sw")
    for label in ("Star Quest", "07 Candidate 07", "5", "Lipa 50 ⭐ kwa Telegram Stars"):
        await telegram.press(USER, label, language_code="sw")
    assert telegram.calls_of("answerCallbackQuery")[-1]["text"] == "Hii ndiyo ankara yako: gusa Lipa ili kupiga kura."
    assert await telegram.pay(USER, language_code="sw")
    assert telegram.last_message(USER).text == "Malipo yamepokelewa, asante! Risiti yako inafuata."
    [order] = await orders(sessions)
    await send_receipts(sessions, bot_settings)
    assert telegram.last_message(USER).text == (f"Risiti {order.id.hex[:8].upper()}\n"
                                                "Kura 5 za 07 Candidate 07 zimehesabiwa katika Star Quest. Asante!")
    await telegram.say(USER, "/myvotes", language_code="sw")
    assert "kura 5 za 07 Candidate 07 (imehesabiwa)" in telegram.last_message(USER).text


async def test_a_french_user_is_answered_in_french(telegram: FakeBotApi, sessions: Sessions) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await telegram.say(USER, "/start", language_code="fr")
    assert telegram.last_message(USER).text == "Bienvenue ! Choisissez un concours pour voter :"


async def test_replayed_updates_create_nothing_new(telegram: FakeBotApi, sessions: Sessions) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await choose_votes(telegram, "Star Quest", "02 Candidate 02", "10")
    pay_button = telegram.last_message(USER)
    _, data = pay_button.buttons[0]
    press = telegram.update(callback_query={
        "id": "q-1", "from": telegram.user(USER, "en"), "chat_instance": "1", "data": data,
        "message": telegram.message_dict(USER, pay_button)})
    assert await telegram.deliver(press) == 200
    assert await telegram.deliver(press) == 200  # Telegram re-sends it
    assert len(await orders(sessions)) == 1
    assert len(telegram.calls_of("sendInvoice")) == 1

    assert (await telegram.pre_checkout(USER))["ok"] in (True, "true")
    payment = telegram.payment_update(USER)
    for _ in range(3):
        assert await telegram.deliver(payment) == 200
    assert (await tallies(sessions, contest.id))["02"] == 10
    async with sessions() as session:
        kept = await session.scalar(select(TelegramUpdate).where(TelegramUpdate.update_id == payment["update_id"]))
    assert kept is not None and kept.handled_at is not None


async def test_a_wrong_or_missing_secret_gets_401(telegram: FakeBotApi, sessions: Sessions) -> None:
    await make_contest(sessions, stars_per_vote=10)
    for secret in ("not-the-secret", None):
        telegram.secret = secret
        assert await telegram.say(USER, "/start") == 401
    assert USER not in telegram.chats
    async with sessions() as session:
        assert await session.scalar(select(TelegramUpdate)) is None


async def test_a_payment_after_the_close_and_its_grace_is_refunded_once(telegram: FakeBotApi,
                                                                        sessions: Sessions) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await choose_votes(telegram, "Star Quest", "03 Candidate 03", "1")
    await telegram.press(USER, "Pay 10 ⭐ in Telegram Stars")
    assert (await telegram.pre_checkout(USER))["ok"] in (True, "true")
    now = datetime.now(UTC)
    async with sessions.begin() as session:  # the lines closed six minutes ago, after the vote: past their grace
        await session.execute(update(Contest).where(Contest.id == contest.id)
                              .values(status="closed", closes_at=now - timedelta(minutes=6)))
        await session.execute(update(VoteOrder).where(VoteOrder.contest_id == contest.id)
                              .values(created_at=now - timedelta(minutes=7)))
    payment = telegram.payment_update(USER)
    await telegram.deliver(payment)
    assert telegram.last_message(USER).text.startswith("Voting closed before your payment arrived")
    again: dict[str, Any] = {**payment, "update_id": payment["update_id"] + 1}  # the same charge, re-sent
    await telegram.deliver(payment)
    await telegram.deliver(again)
    charge = payment["message"]["successful_payment"]["telegram_payment_charge_id"]
    assert [call["telegram_payment_charge_id"] for call in telegram.calls_of("refundStarPayment")] == [charge]
    assert (await tallies(sessions, contest.id))["03"] == 0
    [order] = await orders(sessions)
    assert order.status is OrderStatus.REFUNDED


async def test_a_payment_just_after_the_close_counts_within_the_published_grace(telegram: FakeBotApi,
                                                                                sessions: Sessions) -> None:
    """The same rule as every channel's (gateway.core.contests.late_votes): placed before the close, paid within
    its grace, it counts."""
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await choose_votes(telegram, "Star Quest", "03 Candidate 03", "1")
    await telegram.press(USER, "Pay 10 ⭐ in Telegram Stars")
    assert (await telegram.pre_checkout(USER))["ok"] in (True, "true")
    async with sessions.begin() as session:  # the lines close between the pre-checkout and the payment
        await session.execute(update(Contest).where(Contest.id == contest.id)
                              .values(closes_at=datetime.now(UTC)))
    await telegram.deliver(telegram.payment_update(USER))
    assert telegram.calls_of("refundStarPayment") == []
    assert (await tallies(sessions, contest.id))["03"] == 1
    [order] = await orders(sessions)
    assert order.status is OrderStatus.PAID


async def test_a_contest_closed_while_its_voter_chooses_takes_no_order(telegram: FakeBotApi,
                                                                       sessions: Sessions) -> None:
    """The bot words its screens from a copy of the contest a few seconds old; the vote itself reads it afresh."""
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await choose_votes(telegram, "Star Quest", "03 Candidate 03", "1")
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status="closed"))
    await telegram.press(USER, "Pay 10 ⭐ in Telegram Stars")
    alert = telegram.calls_of("answerCallbackQuery")[-1]
    assert alert["text"] == "Voting for Star Quest has closed. Thank you!" and alert["show_alert"] in (True, "true")
    assert all(message.invoice is None for message in telegram.chats[USER])
    assert await orders(sessions) == []


async def test_pre_checkout_is_refused_once_voting_closed(telegram: FakeBotApi, sessions: Sessions) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await choose_votes(telegram, "Star Quest", "03 Candidate 03", "1")
    await telegram.press(USER, "Pay 10 ⭐ in Telegram Stars")
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(status="closed"))
    answer = await telegram.pre_checkout(USER)
    assert answer["ok"] in (False, "false")
    assert answer["error_message"] == "Your vote was not taken: voting has closed."
    assert not await telegram.pay(USER)


async def test_a_button_pressed_twice_is_answered_and_handled(telegram: FakeBotApi, sessions: Sessions) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await telegram.say(USER, "/start")
    menu = telegram.last_message(USER)
    [(_, data)] = menu.buttons
    await telegram.press_data(USER, data, menu.message_id)
    shown = telegram.last_message(USER).text
    await telegram.press_data(USER, data, menu.message_id)  # the same button again: the menu already shows it
    assert telegram.last_message(USER).text == shown
    answered = {call["callback_query_id"] for call in telegram.calls_of("answerCallbackQuery")}
    assert answered == set(telegram.query_users)
    async with sessions() as session:
        assert (await session.scalars(select(TelegramUpdate).where(TelegramUpdate.handled_at.is_(None)))).all() == []


async def test_a_paused_contest_is_said_to_be_paused_not_gone(telegram: FakeBotApi, sessions: Sessions,
                                                              bot_settings: Settings) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest", status=ContestStatus.PAUSED)
    assert await telegram.say(USER, "/start") == 200
    assert telegram.last_message(USER).text == "Voting for Star Quest is paused for a moment. Please try again shortly."
    assert await telegram.say(USER, "/top") == 200
    assert "paused for a moment" in telegram.last_message(USER).text
    assert await orders(sessions) == []


async def test_a_typed_number_of_votes_in_other_digits_is_asked_again_not_an_error(
        telegram: FakeBotApi, sessions: Sessions) -> None:
    """`str.isdigit` takes a superscript that `int` then refuses: the update ended in an error and the voter heard
    nothing. Every form but 0-9 is asked again, and a number typed right after still offers the payment."""
    await make_contest(sessions, candidates=10, stars_per_vote=10, name="Star Quest")
    assert await telegram.say(USER, "/start") == 200
    await telegram.press(USER, "Star Quest")
    await telegram.press(USER, "07 Candidate 07")
    for typed in ("²", "٣", "１２", "+3", " 3 _"):
        assert await telegram.say(USER, typed) == 200
        assert telegram.last_message(USER).text == "Please type a number of votes from 1 to 100.", typed
    assert await telegram.say(USER, "12") == 200
    assert telegram.last_message(USER).text.startswith("12 votes for 07 Candidate 07: 120 ⭐")
    assert await orders(sessions) == []
