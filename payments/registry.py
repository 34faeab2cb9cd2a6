"""The providers the service knows, from their parts, and those set up here, from what each built of the settings: the
core's `Providers`. It names no provider: the assembly hands it the list (`assembly/provider_list.py`).

In development a mobile-money provider with no credentials talks to the local sandbox (`gateway run` starts it); in
production it must have real credentials (config refuses otherwise). Each declared capability that an implementation
carries is checked against it here, so the core's reading of a capability never meets a provider without it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from gateway.core.money import Chargeable
from gateway.core.providers import (
    AccountBalance,
    Capability,
    ChargeList,
    PaymentError,
    PaymentList,
    PaymentProvider,
    PayoutsSent,
    RefundsSent,
    SecretHeaders,
)
from gateway.kit.provider_parts import Implementations, ProviderParts, ProviderResources, phone_wallets
from gateway.kit.settings import ServiceSettings

log = logging.getLogger(__name__)
NOT_SET_UP = Implementations()


def undeclared(parts: ProviderParts[Any], built: Implementations) -> list[str]:
    """What `built` carries that its provider does not declare (or declares and does not carry)."""
    found = []
    if built.refunds is not None and Capability.REFUNDS_SENT not in parts.capabilities:
        found.append("refunds sent by its API without REFUNDS_SENT")
    if built.payouts is not None and Capability.PAYOUTS not in parts.capabilities:
        found.append("payouts without PAYOUTS")
    set_up = built.other is not None or built.pushed is not None
    one_list = built.other is built.pushed and isinstance(built.other, ChargeList)
    if set_up and Capability.STATEMENT_LISTING in parts.capabilities and not one_list:
        found.append("STATEMENT_LISTING without one implementation listing its charges")
    return found


class ProviderRegistry:
    """`parts`: every provider the service knows, in its order; `built`: what each set up here (absent: nothing);
    `push_channels`: the channels whose voters pay by a prompt pushed to their phone."""

    def __init__(self, parts: Sequence[ProviderParts[Any]], built: Mapping[str, Implementations] | None = None, *,
                 push_channels: Collection[str] = ()) -> None:
        self._parts = {provider.name: provider for provider in parts}
        self._built = dict(built or {})
        self.push_channels = frozenset(push_channels)
        self.phone_wallets = phone_wallets(parts)  # what the phone channels' jobs read of the wallets
        if unknown := set(self._built) - set(self._parts):
            raise ValueError(f"implementations of providers the service does not list: {sorted(unknown)}")
        for name, implementations in self._built.items():
            if problems := undeclared(self._parts[name], implementations):
                raise ValueError(f"provider {name!r}: {'; '.join(problems)}")
        # Read by every callback: gathered once (a runtime-checkable protocol's isinstance is slow, and what is set
        # up does not change in a process's life).
        self._secret_headers = frozenset[str]().union(*(
            implementation.secret_headers for implementation in self._implementations()
            if isinstance(implementation, SecretHeaders)))

    def names(self) -> tuple[str, ...]:
        return tuple(self._parts)

    def capabilities(self, provider: str) -> frozenset[Capability]:
        parts = self._parts.get(provider)
        return parts.capabilities if parts is not None else frozenset()

    def having(self, capability: Capability) -> tuple[str, ...]:
        return tuple(name for name, parts in self._parts.items() if capability in parts.capabilities)

    def label(self, provider: str) -> str:
        parts = self._parts.get(provider)
        return parts.label if parts is not None else provider

    def charges(self, provider: str) -> Chargeable:
        parts = self._parts.get(provider)
        return parts.charges if parts is not None else Chargeable()

    def _set_up(self, provider: str) -> Implementations:
        return self._built.get(provider, NOT_SET_UP)

    def get(self, key: str) -> PaymentProvider:
        """The implementation that serves every channel's orders of `key` (one with two ways to pay has none)."""
        built = self._set_up(key)
        if built.other is not None and built.other is built.pushed:
            return built.other
        raise PaymentError(key, "provider_unavailable", "This payment method is not available right now.")

    def for_order(self, provider: str, channel: str) -> PaymentProvider:
        built = self._set_up(provider)
        implementation = built.pushed if channel in self.push_channels else built.other
        if implementation is None:
            raise PaymentError(provider, "provider_unavailable", "This payment method is not available right now.")
        return implementation

    def offers(self, provider: str) -> bool:
        built = self._set_up(provider)
        return built.other is not None or built.pushed is not None

    def payment_lists(self) -> dict[str, PaymentList]:
        """Providers verified against their list of payments (Stars): each is its provider's only implementation."""
        found: dict[str, PaymentList] = {}
        for name in self._built:
            built = self._set_up(name)
            if built.other is built.pushed and isinstance(built.other, PaymentList):
                found[name] = built.other
        return found

    def secret_headers(self) -> frozenset[str]:
        return self._secret_headers

    def refunder(self, provider: str) -> RefundsSent | None:
        return self._set_up(provider).refunds

    def payout_sender(self, provider: str) -> PayoutsSent | None:
        return self._set_up(provider).payouts

    def balances(self, provider: str) -> list[AccountBalance]:
        built, found = self._set_up(provider), list[AccountBalance]()
        for implementation in (built.other, built.pushed, built.refunds, built.payouts):
            if isinstance(implementation, AccountBalance) and implementation not in found:
                found.append(implementation)
        return found

    def _implementations(self) -> Iterator[object]:
        seen: list[object] = []
        for built in self._built.values():
            for implementation in (built.other, built.pushed, built.refunds, built.payouts):
                if implementation is not None and not any(implementation is known for known in seen):
                    seen.append(implementation)
                    yield implementation

    async def aclose(self) -> None:
        """Release what providers opened themselves (the shared HTTP client is not theirs)."""
        for implementation in list(self._implementations()):
            close = getattr(implementation, "aclose", None)
            if close is not None:
                await close()


def build_registry(parts: Sequence[ProviderParts[Any]], settings: ServiceSettings, resources: ProviderResources, *,
                   push_channels: Collection[str] = ()) -> ProviderRegistry:
    """Each provider built from its own part of the settings (the assembly's Settings is each provider's model);
    `push_channels`: the channels that declared they push a payment prompt (the assembly reads them from the
    channels' parts)."""
    return ProviderRegistry(parts, {provider.name: provider.build(settings, resources) for provider in parts},
                            push_channels=push_channels)
