"""What a voter's SMS asks for, read tolerantly (pure; never raises): French, English or Swahili, any case, accents
or none, words glued or spread (`VOTE07 x5`, `  Vote   7  5 `, `VOTER 07 5` and a wallet's word). The words that name
a wallet are its provider's (`PhoneWallets.sms_words`), handed in by the caller."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Command(StrEnum):
    VOTE = "vote"
    HELP = "help"
    TOP = "top"
    STOP = "stop"
    BAD_QUANTITY = "bad_quantity"  # a vote whose quantity is outside the contest's limits
    UNRECOGNISED = "unrecognised"


@dataclass(frozen=True)
class Request:
    command: Command
    keyword: str | None = None  # the contest's keyword the message used (votes only)
    candidate: str | None = None  # digits as sent ("7" or "07")
    quantity: int = 1
    provider: str | None = None  # the provider whose wallet the voter named (a `PhoneWallets` name)


HELP_WORDS = frozenset({"HELP", "AIDE", "INFO", "?", "MSAADA"})
TOP_WORDS = frozenset({"TOP", "TOP5", "CLASSEMENT", "MATOKEO"})
STOP_WORDS = frozenset({"STOP", "ARRET", "ARRETER", "DESABONNER", "UNSUBSCRIBE", "SITISHA"})
FILLER_WORDS = frozenset({"X", "FOIS", "VOTES", "VOIX", "TIMES", "KURA"})
# The words that are one language's only: a new number's replies follow the language it wrote in (`MSAADA`, `KURA`:
# Swahili). A word of several (`VOTE`, `INFO`, `TOP`, `STOP`) says nothing, and the contest's language stays.
LANGUAGE_WORDS = {
    "sw": frozenset({"MSAADA", "MATOKEO", "SITISHA", "KURA", "PIGA"}),
    "fr": frozenset({"AIDE", "CLASSEMENT", "ARRET", "ARRETER", "DESABONNER", "VOTER", "VOTEZ", "VOIX", "FOIS"}),
    "en": frozenset({"HELP", "UNSUBSCRIBE", "TIMES", "RANKING"}),
}
VERB_ENDINGS = ("", "R", "Z", "S")  # VOTE, VOTER, VOTEZ, VOTES: the verb as people type it
MAX_DIGITS = 6  # a longer number is no candidate and no quantity
TOKENS = re.compile(r"[A-Z]+|[0-9]+|\?")
GLUED = re.compile(r"[A-Z0-9]+|\?")  # words as typed, letters and digits together (`STAR5`, `VOTE07`)


def plain(text: str) -> str:
    """Upper case, accents dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def normalise(text: str) -> str:
    """Upper case, accents dropped, letters split from digits, anything but letters, digits and `?`
    turned into spaces."""
    return " ".join(TOKENS.findall(plain(text)))


def parse(text: str, limits: Mapping[str, int], wallet_words: Mapping[str, str]) -> Request:
    """`limits`: each contest keyword of the short code (upper case) -> its most votes per message; `wallet_words`:
    each word that names a wallet, as typed (`M-PESA`) -> its provider."""
    words, glued = normalise(text).split(), GLUED.findall(plain(text))
    if not words:
        return Request(Command.UNRECOGNISED)
    first = words[0]
    if len(words) == 1 and first in HELP_WORDS:
        return Request(Command.HELP)
    if len(glued) == 2 and glued[0] in TOP_WORDS and glued[1] in limits:  # TOP STAR5
        return Request(Command.TOP, keyword=glued[1])
    if len(words) <= 2 and first in TOP_WORDS:
        return Request(Command.TOP, keyword=words[1] if len(words) == 2 and words[1] in limits else None)
    if len(words) == 1 and first in STOP_WORDS:
        return Request(Command.STOP)
    with_digits = keyword_with_digits(glued[0], limits)
    if with_digits is not None:
        return vote(with_digits[0], normalise(" ".join([with_digits[1], *glued[1:]])).split(),
                    limits[with_digits[0]], wallet_words)
    keyword = keyword_of(first, limits)
    if keyword is None:
        return Request(Command.UNRECOGNISED)
    return vote(keyword, words[1:], limits[keyword], wallet_words)


def language_of(text: str) -> str | None:
    """The one language whose own words the message uses (`fr`, `en`, `sw`), else None (none, or several)."""
    words = set(normalise(text).split()) | set(GLUED.findall(plain(text)))
    found = {lang for lang, own in LANGUAGE_WORDS.items() if words & own}
    return found.pop() if len(found) == 1 else None


def keyword_with_digits(word: str, limits: Mapping[str, int]) -> tuple[str, str] | None:
    """A keyword holding digits (`STAR5`) the first word starts with, and what follows it there (a
    candidate glued on, `STAR507`): read before the words are split, which would make `STAR 5` of it.
    Longest first; the admin area refuses a live keyword that is another one plus digits on the same
    short code, so `STAR57` cannot mean both STAR5 + 7 and STAR + 57."""
    for keyword in sorted((k for k in limits if not k.isalpha()), key=len, reverse=True):
        for ending in VERB_ENDINGS:
            rest = word.removeprefix(keyword + ending)
            if rest != word and (rest == "" or rest.isdigit()):
                return keyword, rest
    return None


def keyword_of(word: str, limits: Mapping[str, int]) -> str | None:
    """The contest keyword `word` is, longest first (so `VOTES` is not read as `VOTE` + S when both exist)."""
    for keyword in sorted(limits, key=len, reverse=True):
        if any(word == keyword + ending for ending in VERB_ENDINGS):
            return keyword
    return None


def wallet_phrases(wallet_words: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """The wallets' words as `normalise` leaves them: a word split in two (`M-PESA`: `M PESA`) is matched whole."""
    return {tuple(normalise(word).split()): provider for word, provider in wallet_words.items() if normalise(word)}


def wallet_at(words: list[str], start: int, phrases: Mapping[tuple[str, ...], str]) -> tuple[str, int] | None:
    """The wallet the words name from `start` on, and how many they are: the longest phrase first."""
    for length in sorted({len(phrase) for phrase in phrases}, reverse=True):
        provider = phrases.get(tuple(words[start:start + length]))
        if provider is not None:
            return provider, length
    return None


def vote(keyword: str, words: list[str], maximum: int, wallet_words: Mapping[str, str]) -> Request:
    numbers: list[str] = []
    provider: str | None = None
    phrases = wallet_phrases(wallet_words)
    index = 0
    while index < len(words):
        word, named = words[index], wallet_at(words, index, phrases)
        if word.isdigit():
            numbers.append(word)
        elif named is not None and provider is None:
            provider = named[0]
            index += named[1]
            continue
        elif word not in FILLER_WORDS:
            return Request(Command.UNRECOGNISED)
        index += 1
    if not numbers or len(numbers) > 2 or len(numbers[0]) > MAX_DIGITS:
        return Request(Command.UNRECOGNISED)
    quantity_text = numbers[1] if len(numbers) == 2 else "1"
    if len(quantity_text) > MAX_DIGITS or not 1 <= int(quantity_text) <= maximum:
        return Request(Command.BAD_QUANTITY, keyword=keyword, candidate=numbers[0], provider=provider)
    return Request(Command.VOTE, keyword, numbers[0], int(quantity_text), provider)
