"""The words the payment flow answers with: what confirming, refunding, settling, checking or taking in a
provider's word about an order did. They are stored (provider_events.outcome), logged and returned in
JSON, so a value never changes; a new word is a new member."""

from __future__ import annotations

from enum import StrEnum


class ConfirmOutcome(StrEnum):
    """What `orders.counting.confirm_payment` did with a provider's "paid"."""

    COUNTED = "counted"  # this call moved the order to paid and counted its votes
    HELD = "held"  # paid, but a fraud rule holds its votes out of the tally until a person decides
    ALREADY_DECIDED = "already_decided"  # someone else decided first: nothing changed
    FLAGGED = "flagged"  # money moved but the vote was not counted (mismatch, or late)
    DUPLICATE_PAYMENT = "duplicate_payment"  # a second, different transaction for a paid order: refund it
    OTHER_PROVIDER = "other_provider"  # the order is another provider's: this word proves nothing about it
    LATE = "late"  # paid after the lines closed and their grace: not counted, refunded by itself (contests.late_votes)


class RefundSettled(StrEnum):
    """What `orders.refunding.settle_refund` did with a refund the provider reports."""

    REFUNDED = "refunded"  # all the money went back: the order is refunded, none of it counted
    PARTIAL_REFUND = "partial_refund"  # part went back: recorded for a person; an uncounted order is flagged
    ALREADY_DECIDED = "already_decided"  # the order was refunded before: nothing changed


class Outcome(StrEnum):
    """What a status check or a callback led to (`payments.checking`, `payments.callbacks`): every word of
    `ConfirmOutcome` and `RefundSettled`, and those of the other states and of callbacks."""

    # The order changed (or its payment was recorded for a person).
    COUNTED = "counted"
    HELD = "held"  # paid, its votes held for a person by a fraud rule
    FLAGGED = "flagged"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    PARTIAL_REFUND = "partial_refund"
    CHARGED_BACK = "charged_back"  # disputed by the card's owner: off the board, the payer's next orders held
    DUPLICATE_PAYMENT = "duplicate_payment"
    LATE = "late"  # paid after the lines closed and their grace: not counted, refunded by itself
    # Nothing changed.
    ALREADY_DECIDED = "already_decided"  # decided before: a late or repeated word
    PENDING = "pending"  # the payer has not approved yet
    # Still pending: its prompt will never be paid (another held the phone), so a new one is owed
    # (`payments.starting_again`).
    START_AGAIN = "start_again"
    # Still pending: the provider's word is about a prompt whose start has not recorded it yet (the start is under
    # way): to be checked again once it is.
    START_UNDER_WAY = "start_under_way"
    OTHER_PROVIDER = "other_provider"  # about an order another provider serves
    # A callback's own.
    DUPLICATE = "duplicate"  # the provider's event was settled before (a replay)
    NEEDS_CHECK = "needs_check"  # not proof by itself: a status check follows
    # Not vouched for, about an order whose check a callback asked for moments ago: not kept, checked later.
    CHECKED_RECENTLY = "checked_recently"
    UNKNOWN_ORDER = "unknown_order"  # names no order of ours (of this provider)
    IGNORED = "ignored"  # about no order, and not proof of anything
    # Not a callback: data a provider kept in the middle of a start (`payments.starting.keep_start_data`).
    KEPT = "kept"


class Reconciled(StrEnum):
    """What the reconciler did with an order besides a check's own `Outcome` (counted in a pass's report)."""

    NOT_STARTED_YET = "not_started_yet"  # unknown to its provider, but its start may still be under way
    START_IN_PROGRESS = "start_in_progress"  # a start holds the order: looked at again next pass
    RESTARTED = "restarted"  # its lost phone prompt was sent again
    NOT_FOUND = "not_found"  # its provider never heard of it
    UNREACHABLE = "unreachable"  # its provider could not be asked
    PROVIDER_DOWN = "provider_down"  # skipped: its provider failed several checks in a row this pass
    ERROR = "error"  # checking it failed; backed off
