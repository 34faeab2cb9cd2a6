"""The web channel's settings: a model of its own, one of the bases of the assembly's `Settings`.

Imports nothing of the assembly: `assembly.settings` imports it."""

from __future__ import annotations

from pydantic import Field

from gateway.kit.settings import ServiceSettings


class WebSettings(ServiceSettings):
    # Votes (the form and the JSON API together) one person may place a minute: from one address, one payer number
    # or one browser (channels.web.vote_limits).
    web_votes_per_minute: int = Field(default=30, ge=1)
    # …and from an address many people share (a mobile operator's carrier-grade NAT, or one the service learned, as
    # the fraud rules know them): a crowd's, while each of its numbers and browsers keeps one person's.
    web_votes_per_shared_address_minute: int = Field(default=3000, ge=1)
