"""Registries of the service's providers with only the implementations a test sets up (a provider the test leaves
out is known, with its capabilities, but not set up)."""

from __future__ import annotations

from assembly.provider_list import PROVIDERS
from gateway.core.providers import Capability, PaymentProvider
from gateway.kit.provider_parts import Implementations
from payments.registry import ProviderRegistry


def registry_of(**built: Implementations | PaymentProvider) -> ProviderRegistry:
    """`registry_of(mtn=collection)`: one implementation serves every channel; `Implementations` for more."""
    return ProviderRegistry(PROVIDERS, {name: implementations if isinstance(implementations, Implementations)
                                        else Implementations.one(implementations)
                                        for name, implementations in built.items()})


def capabilities_of(provider: str) -> frozenset[Capability]:
    """What a provider of the service declares (as the VoteService hands it to the core when it places an order)."""
    return registry_of().capabilities(provider)
