"""The phone number a user gave the bot, as E.164: its own contact shared, or typed in the chat."""

from __future__ import annotations

from aiogram.types import Message

from gateway.core.phone import normalise_msisdn


def given_number(message: Message, country: str) -> str:
    """The number in `message` (its contact or its text), or InvalidMsisdn. A contact is the whole international
    number, which Telegram sends without its "+". A typed one is read as the contest's voters write it: its spaces
    are no part of it (`6 71 23 45 67` is nine digits in thirteen characters), so the normaliser, which drops them,
    decides; it reads the digits in `country` first, else as international (with "00", or without its "+")."""
    if message.contact is not None:
        shared = message.contact.phone_number
        return normalise_msisdn(shared if shared.startswith("+") else f"+{shared}", country)
    return normalise_msisdn(message.text or "", country)
