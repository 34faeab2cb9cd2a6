"""What the phone channels know of a provider's wallet, declared by the provider (`ProviderParts.phone_wallet`): the
words an SMS voter types to name it, and the numbers whose wallet it likely is (to mark it on a pay screen and to
pick it for a voter who named none). The channels read them from `PhoneWallets`, which the assembly builds from the
providers' parts and hands down (the app's `PHONE_WALLETS`, a job's `phone_wallets`): they never name a provider.

Its label on a phone is the provider's own `ProviderParts.label` (GSM-7 and short, `channels.phone.texts`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True)
class NumberBlocks:
    """The blocks of a country's plan a wallet's network holds, read from the number alone: where carrier data lags
    behind a split of a block between two networks (Cameroon's 65x and 68x). A number of a country some wallet lists
    blocks of, with `digits` local digits, is read by the blocks alone (no carrier data)."""

    country_code: str  # "+237"
    digits: int  # the local number's digits after the country code (9)
    prefixes: tuple[str, ...]  # the local numbers' first digits ("67", "650")


@dataclass(frozen=True)
class Carrier:
    """A network whose subscribers the wallet serves, as phonenumbers' carrier data names it."""

    word: str  # a word of the carrier's name, lower case ("safaricom")
    regions: frozenset[str] | None = None  # only in these regions (ISO codes); None: wherever the carrier is


@dataclass(frozen=True)
class PhoneWallet:
    """A provider's wallet as phone voters know it."""

    sms_words: tuple[str, ...] = ()  # what a voter types to name it, as typed ("MOMO", "M-PESA"): any case, accents
    number_blocks: tuple[NumberBlocks, ...] = ()
    carriers: tuple[Carrier, ...] = ()  # elsewhere: the networks whose wallet it is

    @property
    def has_network(self) -> bool:
        """Whether it is a network's own wallet (its numbers are known): one that is not may serve any number."""
        return bool(self.number_blocks or self.carriers)


class PhoneWallets:
    """The providers' wallets the phone channels know, by provider name, in the service's order (the first whose
    carrier word a number's carrier holds is its wallet)."""

    def __init__(self, wallets: Mapping[str, PhoneWallet]) -> None:
        self._wallets = dict(wallets)
        self._words: dict[str, str] = {}
        for provider, wallet in self._wallets.items():
            for word in wallet.sms_words:
                if self._words.setdefault(word.upper(), provider) != provider:
                    raise ValueError(f"{provider!r} and {self._words[word.upper()]!r} both take the SMS word {word!r}")
        blocks = [(blocks.country_code + prefix, provider) for provider, wallet in self._wallets.items()
                  for blocks in wallet.number_blocks for prefix in blocks.prefixes]
        self._blocks = tuple(sorted(blocks, key=lambda block: len(block[0]), reverse=True))  # most specific first
        self._block_plans = frozenset((blocks.country_code, blocks.digits) for wallet in self._wallets.values()
                                      for blocks in wallet.number_blocks)

    def names(self) -> tuple[str, ...]:
        return tuple(self._wallets)

    def networks(self) -> frozenset[str]:
        """The providers that are a network's own wallet (`PhoneWallet.has_network`)."""
        return frozenset(name for name, wallet in self._wallets.items() if wallet.has_network)

    def sms_words(self) -> dict[str, str]:
        """Each word an SMS voter may type to name a wallet (upper case, as declared) -> its provider."""
        return dict(self._words)

    def number_blocks(self) -> tuple[tuple[str, str], ...]:
        """(E.164 prefix, provider) of every block listed, most specific first."""
        return self._blocks

    def wallet_of(self, msisdn: str) -> str | None:
        """The provider whose wallet an E.164 number likely has: by the blocks where its country's are listed,
        elsewhere by phonenumbers' carrier data; None where neither tells."""
        for country_code, digits in self._block_plans:
            if msisdn.startswith(country_code) and len(msisdn) == len(country_code) + digits:
                return next((provider for prefix, provider in self._blocks if msisdn.startswith(prefix)), None)
        return self._by_carrier(msisdn)

    def _by_carrier(self, msisdn: str) -> str | None:
        if not any(wallet.carriers for wallet in self._wallets.values()):
            return None
        # Imported at the first number outside the blocks: the carrier tables take a tenth of a second of CPU and
        # some MB to load, in every process that lists the channels (workers, commands), where most never read one.
        from phonenumbers import carrier

        try:
            number = phonenumbers.parse(msisdn, None)
        except phonenumbers.NumberParseException:
            return None
        name = carrier.name_for_number(number, "en").lower()
        region = phonenumbers.region_code_for_number(number)
        for provider, wallet in self._wallets.items():
            if any(c.word in name and (c.regions is None or region in c.regions) for c in wallet.carriers):
                return provider
        return None
