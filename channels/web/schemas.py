"""The public JSON API's request and response models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.core.contests.catalog import PublicCandidate, PublicClip, PublicContest, VoterOrder
from gateway.core.providers import Approval
from gateway.core.texts import shown_digits


class VoteRequest(BaseModel):
    """A voter's request to buy votes for one candidate."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    candidate: str = Field(pattern=r"^[0-9]{1,8}$", description="the candidate's code, e.g. '07'")
    quantity: int = Field(ge=1, le=10_000, strict=True)
    provider: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$",
                          description="how it is paid: one of the contest's providers (GET the contest: providers), "
                                      "but those paid in a chat (Telegram Stars: in the bot)")
    msisdn: str | None = Field(default=None, max_length=32, description="payer's phone, for mobile money")


class CodeRequest(BaseModel):
    """A code texted to a number, paid first with the work of a challenge (both needed: without them, 403)."""

    msisdn: str = Field(max_length=32, description="the candidate's mobile, E.164 or as dialled in its country")
    challenge: str | None = Field(default=None, max_length=200,
                                  description="from GET …/entries/challenge, as given; good once, for ten minutes")
    nonce: str | None = Field(default=None, max_length=20, description="decimal digits such that SHA-256 of "
                              "\"<salt>:<nonce>\" begins with `bits` zero bits")


class ClipOut(BaseModel):
    """A candidate's clip, ready to play: H.264 MP4 files and a JPEG poster, served by the media storage."""

    poster_url: str | None = Field(description="a still of the clip (JPEG)")
    mp4_360p_url: str = Field(description="the clip at 360p (MP4): what phones on slow links should play")
    mp4_720p_url: str | None = Field(description="the clip at 720p (MP4); null when the source was smaller")
    duration_seconds: float | None
    width: int | None = Field(description="the source's width in pixels (its shape: portrait or landscape)")
    height: int | None

    @classmethod
    def of(cls, clip: PublicClip) -> ClipOut:
        return cls(poster_url=clip.poster, mp4_360p_url=clip.mp4_360p, mp4_720p_url=clip.mp4_720p,
                   duration_seconds=clip.seconds, width=clip.width, height=clip.height)


class CandidateOut(BaseModel):
    code: str
    name: str
    photo_url: str | None
    bio: str | None
    clip: ClipOut | None = Field(description="the candidate's clip; null for a candidate without a ready one")

    @classmethod
    def of(cls, candidate: PublicCandidate) -> CandidateOut:
        return cls(code=candidate.code, name=candidate.name, photo_url=candidate.photo_url, bio=candidate.bio,
                   clip=ClipOut.of(candidate.clip) if candidate.clip is not None else None)


class PriceTierOut(BaseModel):
    votes: int = Field(description="an order of exactly this many votes costs `amount`")
    amount: int = Field(description="minor units of the contest's `currency`")


class ContestOut(BaseModel):
    slug: str
    name: str
    status: str
    opens_at: datetime
    closes_at: datetime
    price_per_vote: int = Field(description="minor units of `currency`")
    currency: str
    minor_digits: int = Field(description="digits after the decimal point of `currency` (its ISO 4217 exponent): "
                                        "amounts are integers of minor units, 1050 with 2 is 10.50")
    country: str = Field(description="ISO 3166-1 alpha-2 of its audience: numbers typed without their country code "
                                     "are read as this country's")
    time_zone: str = Field(description="IANA: the clock its times are shown on")
    max_votes_per_order: int
    price_tiers: list[PriceTierOut] = Field(description="bundles, by votes: an order of a bundle's votes costs its "
                                            "amount, any other number `price_per_vote` a vote (Stars: per vote)")
    providers: list[str]
    ussd_service_codes: list[str]
    sms_short_code: str | None
    sms_keyword: str | None

    @classmethod
    def of(cls, contest: PublicContest) -> ContestOut:
        return cls(
            slug=contest.slug, name=contest.name, status=contest.status.value, opens_at=contest.opens_at,
            closes_at=contest.closes_at, price_per_vote=contest.price_per_vote, currency=contest.currency,
            minor_digits=shown_digits(contest.currency), country=contest.country, time_zone=contest.time_zone,
            max_votes_per_order=contest.max_votes_per_order,
            price_tiers=[PriceTierOut(votes=tier.votes, amount=tier.amount) for tier in contest.price_tiers],
            providers=list(contest.providers),
            # USSD's and SMS's settings, as the vote service found them (the web imports no other channel)
            ussd_service_codes=list(contest.channel_fields.get("ussd_service_codes") or ()),
            sms_short_code=contest.channel_fields.get("sms_short_code"),
            sms_keyword=contest.channel_fields.get("sms_keyword"),
        )


class ContestDetailOut(ContestOut):
    candidates: list[CandidateOut]


class OrderOut(BaseModel):
    id: uuid.UUID
    reference: str = Field(description="short reference a voter can quote to support")
    status: str
    status_reason: str | None
    contest: str
    candidate: str
    quantity: int
    amount: int = Field(description="minor units of `currency`")
    currency: str
    minor_digits: int = Field(description="digits after the decimal point of `currency` (its ISO 4217 exponent): "
                                        "amounts are integers of minor units, 1050 with 2 is 10.50")
    provider: str
    channel: str
    msisdn: str | None = Field(description="the payer's number, masked: an order link may be shared")
    created_at: datetime
    expires_at: datetime
    receipt_code: str | None = Field(default=None, description="the provider's own receipt code of the payment, "
                                     "where its payers are given one (M-Pesa's receipt number)")

    @classmethod
    def of(cls, order: VoterOrder) -> OrderOut:
        return cls(
            id=order.id, reference=order.reference, status=order.status.value,
            status_reason=order.status_reason, contest=order.contest_slug, candidate=order.candidate_code,
            quantity=order.quantity, amount=order.amount, currency=order.currency,
            minor_digits=shown_digits(order.currency), provider=order.provider, channel=order.channel,
            msisdn=order.msisdn, created_at=order.created_at,
            expires_at=order.expires_at, receipt_code=order.receipt_code,
        )


class NextStep(BaseModel):
    action: Literal["approve_on_phone", "redirect"]
    message: str
    url: str | None = None
    approval: Approval | None = Field(
        default=None, description="how the prompt is approved: the wallet's PIN typed on the prompt that appeared "
                                  "(pin_prompt), or the prompt approved, or found in the wallet's menu")


class VoteCreatedOut(BaseModel):
    order: OrderOut
    next: NextStep


# "My vote counted": an order as its receipt's reference shows it.
class NamedOut(BaseModel):
    code: str | None = None
    slug: str | None = None
    name: str


class LedgerEntryOut(BaseModel):
    seq: int | None = Field(description="the entry's place in its contest's hash chain, from 1; null while the "
                                        "contest is sealed (it would tell how many orders others made)")
    kind: str = Field(description="counted, released, review_counted, rejected, reversed, refunded, opening")
    quantity: int = Field(description="votes added (negative: taken back off)")
    hash: str = Field(description="SHA-256 of the previous entry's hash and this entry's fields, hex")
    recorded_at: datetime


class CheckpointOut(BaseModel):
    entries: int | None = Field(description="the chain's length at the checkpoint; null while the contest is sealed")
    head: str = Field(description="the chain's head hash at the checkpoint, hex")
    taken_at: datetime


class ReceiptOut(BaseModel):
    reference: str
    contest: NamedOut
    candidate: NamedOut
    quantity: int
    amount: int = Field(description="minor units of `currency`")
    currency: str
    minor_digits: int = Field(description="digits after the decimal point of `currency` (its ISO 4217 exponent): "
                                        "amounts are integers of minor units, 1050 with 2 is 10.50")
    payer: str | None = Field(description="the payer's number, masked")
    outcome: Literal["counted", "pending", "failed", "expired", "held", "flagged", "reversed", "rejected",
                     "refunded"]
    counted: bool
    ledger_entries: list[LedgerEntryOut]
    checkpoint: CheckpointOut | None = Field(description="the first checkpoint covering the last entry")
    next_checkpoint_at: datetime | None = Field(description="when one will, while none does")
    sealed: bool = Field(description="the contest is sealed until close: no sequence numbers, no checkpoint counts")


class ResultsKeyOut(BaseModel):
    algorithm: Literal["Ed25519"]
    pem: str
    raw_base64: str
    url: str = Field(description="the same key as PEM, at an address that never changes")
