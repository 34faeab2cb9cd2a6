"""Telegram Stars' settings (its bot is the Telegram channel's: the assembly hands it over as `ChatBot`)."""

from __future__ import annotations

from pydantic import Field

from gateway.kit.settings import ServiceSettings


class StarsSettings(ServiceSettings):
    # A Stars payment counts at once on the webhook's word; Telegram's list of transactions may lag it by a
    # little, so a charge it does not list is looked for again this long before its votes are taken back off.
    stars_verify_within_seconds: int = Field(default=300, ge=0)
