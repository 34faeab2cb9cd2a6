"""The one API every channel calls (the web, the phone channels, the chat channels; the admin area).

A channel keeps its own presentation, sessions, forms and CSRF; what a contest is, whether it takes votes,
how a vote is placed, what a voter may see of an order and how a board ranks are decided here, once.
The assembly builds it (assembly/web/app.py) and keeps it under `VOTE_SERVICE`.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import Select

from gateway.core.channel_settings import ChannelContestSettings, channel_fields
from gateway.core.contests import catalog
from gateway.core.contests.catalog import PublicContest, VoterOrder
from gateway.core.contests.countries import ContestCountries
from gateway.core.contests.kept_catalog import KeptCatalog
from gateway.core.contests.ranking import BoardReader, BoardTop, PublicBoard
from gateway.core.contests.rules import VotingState
from gateway.core.entries import entering, entry_fees
from gateway.core.fraud import shared_learning
from gateway.core.media_storage import MediaStorage
from gateway.core.money_in import in_chat, prompting_again
from gateway.core.money_in.prompting_again import PromptAgain
from gateway.core.money_in.start_protocol import PaymentStarter, StartProtocol
from gateway.core.money_in.starting import StartOutcome, needs_redirect
from gateway.core.orders import closing, order_standing, placing
from gateway.core.orders.placing import PlacedOrder
from gateway.core.orders.receipts import shown_to_voter
from gateway.core.providers import Approval, Capability, PaymentError, Providers
from gateway.core.results import ledger, signing
from gateway.core.texts import Lang
from gateway.core.voters import payer_numbers
from gateway.core.voters.payer_numbers import Caller, PayerVotes
from gateway.db.engine import Sessions, autocommit
from gateway.db.failover import PRIMARY_WAIT_SECONDS
from gateway.db.models import OrderStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlacedVote:
    """A placed order and, where the payer must be sent to a page, its start (else None: a prompt is owed).
    The order's labels are the request's (its candidate's name unread: ""); a replay's own are `order(id)`'s."""

    order: VoterOrder
    started: StartOutcome | None


class VoteService:
    def __init__(self, sessions: Sessions, providers: Providers, board: BoardReader, starts: PaymentStarter, *,
                 pending_ttl: timedelta, receipt_channels: frozenset[str],
                 contest_settings: Sequence[ChannelContestSettings] = (),
                 storage: MediaStorage | None = None, kept: KeptCatalog | None = None) -> None:
        self.sessions = sessions
        # The public contests as this process read them a moment ago, for the reads a vote's answer is worded from
        # (a worker's SMS jobs); None: read afresh each time.
        self.kept = kept
        self.providers = providers
        self.board = board
        # Money in's one door: every start of a payment goes through it (gateway.core.money_in.start_protocol).
        self.money_in = StartProtocol(sessions, providers, starts, pending_ttl=pending_ttl)
        self.contest_settings = tuple(contest_settings)
        self.receipt_channels = receipt_channels  # the channels that message a voter the outcome (their receipts)
        # Where candidates' clips are kept: the core hands channels finished URLs (a file's own URL where the
        # storage gave one, else the storage's for its key), so no channel resolves a key itself.
        self.storage = storage
        self.countries = ContestCountries(sessions)

    async def _with_channel_fields(self, contests: Sequence[PublicContest]) -> list[PublicContest]:
        """The contests with every channel's own settings of each (`PublicContest.channel_fields`)."""
        if not self.contest_settings or not contests:
            return list(contests)
        async with autocommit(self.sessions) as session:
            fields = await channel_fields(session, self.contest_settings, [c.id for c in contests])
        return [replace(c, channel_fields=fields[c.id]) for c in contests]

    async def public_contests(self, *, channel_fields: bool = False) -> list[PublicContest]:
        """Every contest the public may see (no drafts, no candidates), soonest closing first; with the channels'
        settings of each when asked (they cost a query per channel, which a vote's path does without)."""
        if self.kept is not None:
            contests = await self.kept.public_contests(lambda: catalog.public_contests(self.sessions))
        else:
            contests = await catalog.public_contests(self.sessions)
        return await self._with_channel_fields(contests) if channel_fields else contests

    async def contests_with_menus(self, contest_ids: Select[int]) -> tuple[PublicContest, ...]:
        """The public contests among `contest_ids` (those a USSD code dials), with the candidates a menu lists."""
        return await catalog.contests_with_menus(self.sessions, contest_ids)

    async def contest(self, slug: str, *, channel_fields: bool = False, clips: bool = False) -> PublicContest:
        """A public contest with its active candidates (and the channels' settings of it, and each candidate's
        ready clip, when asked); NotFound otherwise."""
        async def read() -> PublicContest:
            contest = await catalog.contest_by_slug(self.sessions, slug, self.storage if clips else None)
            return (await self._with_channel_fields([contest]))[0] if channel_fields else contest

        if self.kept is not None and not clips:
            return await self.kept.contest(slug, read, channel_fields=channel_fields)
        return await read()

    def keeping_contests(self) -> VoteService:
        """This service, its contests read for a vote's answers kept a few seconds (`KeptCatalog`): for a channel
        that reads them at every step of a vote (the Telegram bot), as a worker's SMS jobs do."""
        kept = copy.copy(self)
        kept.kept = KeptCatalog()
        return kept

    async def candidate_ref(self, candidate_id: int) -> tuple[str, str] | None:
        """(contest slug, candidate code) of a publicly shown candidate (a short link's target); else None."""
        return await catalog.public_candidate_ref(self.sessions, candidate_id)

    async def payer_number(self, contest_slug: str, typed: str | None) -> str | None:
        """A payer's number as typed for a contest (`0712 000 102` on a Kenyan one), in E.164; as typed if it is none
        (the vote's checks refuse it)."""
        return await self.countries.payer_number(contest_slug, typed)

    async def contest_of(self, order: VoterOrder) -> PublicContest | None:
        return await catalog.contest_by_id(self.sessions, order.contest_id)

    async def place_vote(self, request: placing.OrderRequest, *, push_after: float = 0.0,
                         wait_for_room: bool = False, cancellable: bool = False,
                         primary_wait: float = PRIMARY_WAIT_SECONDS) -> PlacedVote:
        """Validate, apply the limits, create the order (or find the one its client_key made) and start its
        payment: a redirect now, a phone prompt `push_after` seconds after the reply. `wait_for_room` holds a
        vote back briefly while many prompts are owed (the web; a USSD hop must answer at once). `cancellable`:
        the channel may cancel the order until its prompt is tried (`cancel_if_unstarted`, a USSD session's end).
        `primary_wait`: how long the vote waits for a PostgreSQL primary during a failover (a channel whose answer is
        due within seconds waits less; `PrimaryUnavailable` after it)."""
        if request.msisdn and not request.msisdn.startswith("+"):  # typed as the contest's voters write numbers
            request = replace(request, msisdn=await self.countries.payer_number(request.contest_slug, request.msisdn))
        terms = await self.money_in.terms(request.provider, request.channel, push_after=push_after,
                                          cancellable=cancellable, wait_for_room=wait_for_room)
        placed = await placing.placed_order(
            self.sessions, request, capabilities=self.providers.capabilities(request.provider),
            pending_ttl=terms.pending_ttl, sends_receipt=request.channel in self.receipt_channels,
            start_lease=terms.start_lease, primary_wait=primary_wait)
        view = VoterOrder.of(placed.order, request.contest_slug, request.candidate_code, candidate_name="")
        return PlacedVote(view, await self.money_in.begin(placed, terms))

    async def pay_entry_fee(self, entry_id: uuid.UUID, token: str, provider: str, msisdn: str | None,
                            channel: str) -> PlacedVote:
        """Place (or find the waiting) payment of an entry's fee, by its candidate's private link, and start it
        as a vote's: a redirect now, or a phone prompt after the reply (gateway.core.entries.entry_fees). No number:
        the one the candidate proved when entering pays."""
        entry = await entering.entry_of_link(self.sessions, entry_id, token)
        terms = await self.money_in.terms(provider, channel)  # its insert takes no lease: the start claims its own
        order = await entry_fees.place_entry_fee(
            self.sessions, self.providers, entry_fees.FeeRequest(entry.id, provider, msisdn or entry.msisdn, channel),
            pending_ttl=terms.pending_ttl)
        view = await self.order(order.id)
        return PlacedVote(view, await self.money_in.begin(PlacedOrder(order, inserted=False), terms))

    async def order(self, order_id: uuid.UUID) -> VoterOrder:
        """The order as its voter may see it (its provider's receipt code where its provider's payers get one);
        NotFound otherwise."""
        return shown_to_voter(await catalog.order_view(self.sessions, order_id), self.providers)

    def approval(self, provider: str) -> Approval:
        """How a payer approves `provider`'s phone prompt: what a channel tells a voter waiting for it."""
        return Approval.of(self.providers.capabilities(provider))

    def offers_prompt_again(self, order: VoterOrder) -> bool:
        """Whether the waiting order's voter may ask for its prompt again (`prompt_again`)."""
        return order.status is OrderStatus.PENDING and prompting_again.offers_prompt_again(
            self.providers, order.provider, order.channel)

    async def prompt_again(self, order_id: uuid.UUID) -> PromptAgain:
        """The voter got no prompt: one is pushed again once the provider says the last is over unpaid
        (gateway.core.money_in.prompting_again); the channel bounds how often an order asks."""
        return await self.money_in.prompt_again(order_id)

    def can_pay(self, provider: str, channel: str) -> bool:
        """Whether this process takes payments by `provider` on `channel` (Orange push needs its own credentials)."""
        try:
            self.providers.for_order(provider, channel)
        except PaymentError:
            return False
        return True

    def providers_having(self, capability: Capability) -> tuple[str, ...]:
        """The providers that declare `capability`, in the service's order: a channel offers a provider by what it
        can do (a prompt on the phone, a payment in the chat), never by its name."""
        return self.providers.having(capability)

    def provider_label(self, provider: str) -> str:
        """A provider's name as payers know it (its own label): what a channel says a contest takes."""
        return self.providers.label(provider)

    def needs_redirect(self, order: VoterOrder) -> bool:
        """Whether the order's payment happens on the provider's page (rather than a phone prompt)."""
        return needs_redirect(self.providers, order.provider, order.channel)

    async def order_for_client_key(self, client_key: str, msisdn: str | None) -> uuid.UUID | None:
        """The order a channel's replay key made (scoped to the payer's number, as placing it was)."""
        order = await placing.find_by_client_key(self.sessions, client_key, msisdn)
        return order.id if order is not None else None

    async def cancel_if_unstarted(self, order_id: uuid.UUID, reason: str) -> bool:
        """Fail an order whose payment prompt has not gone out yet (its voter left); False otherwise."""
        return await closing.cancel_if_unstarted(self.sessions, order_id, reason)

    async def address_is_shared(self, address: str) -> bool:
        """Whether many people share the client address (a mobile operator's carrier-grade NAT, or one learned),
        as the fraud rules judge it: a channel's per-address limit then allows a crowd."""
        return await shared_learning.is_shared(self.sessions, address)

    async def caller(self, msisdn: str) -> Caller:
        """The number's language (chosen on any channel) and whether it is blocked."""
        return await payer_numbers.caller(self.sessions, msisdn)

    async def remember_language(self, msisdn: str, language: Lang) -> None:
        await payer_numbers.remember_language(self.sessions, msisdn, language)

    async def payer_votes(self, contest_id: int, msisdn: str) -> PayerVotes:
        """A number's counted votes, waiting orders and last orders in a contest."""
        return await payer_numbers.payer_votes(self.sessions, contest_id, msisdn)

    async def top(self, contest_id: int, n: int | None = None) -> BoardTop:
        """A board's first `n` rows (all with None), as the leaderboard serves it: one ranking rule (shared
        ranks), its freeze and its hidden counts, the same on every channel."""
        return await self.board.top(contest_id, n)

    # A chat channel's payments made in the chat (Stars), checked before the charge and settled from the chat.
    async def check_before_charge(self, payload: str, amount: int, currency: str) -> str | None:
        """None when the chat may charge for the order this invoice payload names; else why not."""
        return await in_chat.check_before_charge(self.sessions, payload, amount, currency)

    async def settle_chat_payment(self, provider: str, payment: in_chat.ChatPayment,
                                  ) -> tuple[in_chat.ChatPaymentOutcome, VoterOrder | None]:
        return await in_chat.settle_chat_payment(self.sessions, self.providers, provider, payment)

    async def chat_orders(self, voter_ref: str, limit: int = 10) -> list[VoterOrder]:
        return await in_chat.chat_orders(self.sessions, voter_ref, limit)

    # Results anyone can check: a voter's own order on the ledger, the checkpoints, the signed sheet.
    async def order_standing(self, reference: str) -> order_standing.OrderStanding:
        """What became of the order the receipt's reference names (only that order; the number masked)."""
        return await order_standing.order_standing(self.sessions, reference)

    async def checkpoints(self, contest_id: int, last: int = 5) -> list[ledger.Checkpoint]:
        """The contest's latest ledger checkpoints, newest first."""
        async with autocommit(self.sessions) as session:
            return await ledger.latest_checkpoints(session, contest_id, last)

    async def results_sheet(self, slug: str) -> signing.SignedSheet | None:
        """The contest's latest results sheet signed at (or after) close; the caller publishes it only when
        `results_published` says so."""
        return await signing.latest_sheet(self.sessions, slug)

    @staticmethod
    def results_published(contest: PublicContest, now: datetime) -> bool:
        """Whether the public may have the signed sheet: voting over, and a sealed board opened (its contest closed
        by the organiser: until then late confirmations still count, and the sheet would unseal the board)."""
        if contest.voting(now) is not VotingState.CLOSED:
            return False
        return contest.public_board() is not PublicBoard.SEALED


VOTE_SERVICE = web.AppKey("vote_service", VoteService)
