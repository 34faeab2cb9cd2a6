"""What we keep about voters across contests: blocked numbers and addresses, language."""

from __future__ import annotations

from datetime import datetime
from ipaddress import IPv4Network, IPv6Network

from sqlalchemy import (
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import CIDR
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base


class BlockedMsisdn(Base):
    """Payer numbers refused on every channel (fraud, chargebacks, an organiser's decision)."""

    __tablename__ = "blocked_msisdns"

    msisdn: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class BlockedAddress(Base):
    """Client addresses (one, or a network) whose votes are refused before any payment prompt."""

    __tablename__ = "blocked_addresses"

    network: Mapped[IPv4Network | IPv6Network] = mapped_column(CIDR, primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class VoterPreference(Base):
    """What we remember of a phone number between sessions (the menu language)."""

    __tablename__ = "voter_preferences"

    msisdn: Mapped[str] = mapped_column(String(20), primary_key=True)
    language: Mapped[str] = mapped_column(String(2))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

