"""Database tables, one module per aggregate. PostgreSQL is the source of truth for contests, orders and
tallies. A channel's own tables live in its folder (`channels/<name>/models.py`) on the same `Base`."""

from gateway.db.models.admin_accounts import AdminRefreshToken, AdminUser, AuditEntry, ContestOrganiser
from gateway.db.models.base import NAMING, Base, enum_column
from gateway.db.models.contests import Candidate, CandidateStatus, Contest, ContestStatus, Tally
from gateway.db.models.entries import Entry, EntryCall, EntryStatus, MediaUpload, UploadKind, UploadState
from gateway.db.models.fraud import FraudCount, FraudMember, SharedAddress
from gateway.db.models.free_votes import FreeTally, FreeVote
from gateway.db.models.jury import JuryRange, JuryReveal, JuryScore, JurySeat
from gateway.db.models.ledger import LedgerCheckpoint, LedgerEntry, LedgerHead, ResultsSheet
from gateway.db.models.money_out import (
    BANK_ACCOUNT,
    Payout,
    PayoutAccount,
    PayoutState,
    ProviderBalance,
    ProviderFeeBand,
    ProviderFeeRate,
    Refund,
    RefundState,
    SettlementStatement,
)
from gateway.db.models.orders import OrderStatus, OutboxMessage, PaymentVerification, ProviderEvent, VoteOrder
from gateway.db.models.rounds import ContestRound, RoundBaseline, RoundStatus
from gateway.db.models.voters import BlockedAddress, BlockedMsisdn, VoterPreference

__all__ = [
    "BANK_ACCOUNT", "NAMING", "AdminRefreshToken", "AdminUser", "AuditEntry", "Base", "BlockedAddress",
    "BlockedMsisdn", "Candidate", "CandidateStatus", "Contest", "ContestOrganiser", "ContestRound", "ContestStatus",
    "Entry", "EntryCall", "EntryStatus", "FraudCount", "FraudMember", "MediaUpload", "UploadKind", "UploadState",
    "LedgerCheckpoint", "LedgerEntry", "LedgerHead", "OrderStatus", "OutboxMessage", "PaymentVerification",
    "ProviderEvent", "Payout", "PayoutAccount", "PayoutState", "ProviderBalance", "ProviderFeeBand",
    "ProviderFeeRate", "Refund", "RefundState", "ResultsSheet", "RoundBaseline", "RoundStatus", "SettlementStatement",
    "SharedAddress", "Tally", "VoteOrder", "VoterPreference", "enum_column",
    "JuryRange", "JuryReveal", "JuryScore", "JurySeat",
    "FreeTally", "FreeVote",
]
