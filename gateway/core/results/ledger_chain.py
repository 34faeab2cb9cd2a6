"""The vote ledger's hash chain, as pure functions: the canonical bytes of an event and the hash of an entry.

PostgreSQL computes the same bytes when it appends (gateway.core.results.ledger.event_bytes_sql); these recompute
them to verify. Each field is written as `<length in bytes>:<UTF-8 text>`, a missing one as `-`, in a fixed
order: no field's content can shift into another's, and nothing depends on a JSON library's spacing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = bytes(32)  # the "previous hash" of a contest's first entry
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # PostgreSQL: to_char(at UTC, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
# A free vote's entry (gateway.core.orders.free_votes): counted apart from the paid votes, it moves no money.
FREE_KIND = "free"


@dataclass(frozen=True)
class LedgerEvent:
    """The fields an entry's hash covers."""

    kind: str
    order_id: uuid.UUID
    candidate_id: int
    quantity: int  # signed
    amount: int  # signed as the quantity, minor units
    currency: str
    provider_txn_id: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class StoredEntry:
    seq: int
    event: LedgerEvent
    prev_hash: bytes
    hash: bytes


def field_bytes(value: str | None) -> bytes:
    if value is None:
        return b"-"
    encoded = value.encode()
    return f"{len(encoded)}:".encode() + encoded


def event_bytes(event: LedgerEvent) -> bytes:
    """The event's canonical encoding (the order of the fields is part of it)."""
    texts = (event.kind, str(event.order_id), str(event.candidate_id), str(event.quantity), str(event.amount),
             event.currency, event.provider_txn_id, event.recorded_at.astimezone(UTC).strftime(TIME_FORMAT))
    return b"".join(field_bytes(text) for text in texts)


def entry_hash(prev_hash: bytes, event: LedgerEvent) -> bytes:
    return hashlib.sha256(prev_hash + event_bytes(event)).digest()


@dataclass(frozen=True)
class Break:
    """The first entry that does not fit the chain, and why."""

    seq: int
    reason: str


@dataclass
class Recount:
    """What a walk along a chain found: its head, its length, the votes and money it counts per candidate."""

    entries: int = 0
    head: bytes = GENESIS
    votes: dict[int, int] = field(default_factory=dict)
    amounts: dict[tuple[int, str], int] = field(default_factory=dict)  # per candidate and currency (XAF, XTR…)
    heads_at: dict[int, bytes] = field(default_factory=dict)  # the head after the entries asked for
    broken: Break | None = None
    free: dict[int, int] = field(default_factory=dict)  # free votes per candidate: never among `votes` nor money


def take(recount: Recount, entry: StoredEntry, keep_heads_at: frozenset[int] = frozenset()) -> bool:
    """Add the next entry (in `seq` order) to the recount; False, with `recount.broken` set, if it does not fit."""
    expected_seq = recount.entries + 1
    if entry.seq != expected_seq:
        recount.broken = Break(entry.seq, f"entry {expected_seq} is missing (found {entry.seq} next)")
    elif entry.prev_hash != recount.head:
        recount.broken = Break(entry.seq, "its previous hash is not the hash of the entry before it")
    elif entry.hash != entry_hash(recount.head, entry.event):
        recount.broken = Break(entry.seq, "its hash does not match its contents")
    if recount.broken is not None:
        return False
    recount.entries, recount.head = entry.seq, entry.hash
    candidate = entry.event.candidate_id
    if entry.event.kind == FREE_KIND:
        recount.free[candidate] = recount.free.get(candidate, 0) + entry.event.quantity
    else:
        recount.votes[candidate] = recount.votes.get(candidate, 0) + entry.event.quantity
        money = (candidate, entry.event.currency)
        recount.amounts[money] = recount.amounts.get(money, 0) + entry.event.amount
    if entry.seq in keep_heads_at:
        recount.heads_at[entry.seq] = entry.hash
    return True


def walk(entries: Iterable[StoredEntry], keep_heads_at: frozenset[int] = frozenset()) -> Recount:
    """Recompute the chain in `seq` order; stop at the first entry that does not fit."""
    recount = Recount()
    for entry in entries:
        if not take(recount, entry, keep_heads_at):
            break
    return recount


def chain(events: Iterable[LedgerEvent], prev_hash: bytes = GENESIS, first_seq: int = 1) -> Iterator[StoredEntry]:
    """Entries for events appended in order (the migration's opening entries; tests)."""
    for seq, event in enumerate(events, start=first_seq):
        digest = entry_hash(prev_hash, event)
        yield StoredEntry(seq, event, prev_hash, digest)
        prev_hash = digest


def signature_holds(public: Ed25519PublicKey, sheet: bytes, signature_file: bytes) -> bool:
    """Whether a results sheet's detached signature file (base64 of the Ed25519 signature) is `public`'s over it."""
    try:
        public.verify(base64.b64decode(signature_file.strip(), validate=True), sheet)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
