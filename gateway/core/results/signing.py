"""Signed results: a contest's results sheet, made from its verified ledger, signed with Ed25519.

The sheet is CSV (its exact bytes are what is signed); the signature is detached, base64 in a file of its
own, so that anyone holding the public key checks a sheet offline (`gateway results verify`). A sheet is
signed at close (the ledger's periodic job) and on demand (`gateway results sign`, the admin area), and
kept: after close, the latest one is public.

A contest decided with a jury (its formula not the public alone, or its jury revealed) has a few more lines before
the ledger's: `formula,,<the formula in words>,<public %>,<jury %>,`; then, once the jury is revealed, a `jury` line
per candidate (code, name, the jurors' points added up, `points`) and the blend: a `blend` line naming its columns
(`blend,code,rank,public_share_pct,jury_share_pct,score_pct`) followed by one per candidate in rank order
(gateway.core.results.blend: percentages with two decimals), of the candidates and votes the board blends (a show
in rounds: its last round's, as the final was decided; a hidden candidate's are no part of it); before the reveal,
`jury,,sealed,,,` alone. A sheet
of the public alone is written as before, byte for byte, and every sheet is checked the same way: its bytes against
its signature.

A contest that gives free votes (or took some) lists them apart after the totals: a `free` line per candidate (code,
name, its free votes, and the organiser's weight: `counted` or `apart`) and `total_free`; the `candidate` lines and
`total` stay the paid votes and their money. A sheet of a contest without free votes has no such line.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.cells import safe_text
from gateway.core.errors import Conflict, NotFound
from gateway.core.results import ledger
from gateway.core.results.blend import percent_text
from gateway.core.results.jury_parts import PublicJury, public_jury
from gateway.core.results.ledger_chain import signature_holds as signature_holds  # the check is the ledger's too
from gateway.core.results.round_figures import round_lines
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Candidate, CandidateStatus, Contest, ContestRound, ResultsSheet

HEADER = ("record", "code", "name", "votes", "amount", "currency")


class BadKey(ValueError):
    """A key that is neither PEM nor base64 of 32 raw bytes."""


@dataclass(frozen=True)
class SheetLine:
    code: str
    name: str
    votes: int
    amounts: dict[str, int]  # per currency: a contest sold in Stars too takes XTR beside its own currency
    free: int = 0  # its free votes (gateway.core.orders.free_votes), apart from `votes`


@dataclass(frozen=True)
class SheetJury:
    """The jury's part of a sheet: the formula, and (once revealed) each candidate's id beside its line's code."""

    jury: PublicJury
    ids: dict[str, int]  # code -> candidate id


def sheet_csv(slug: str, name: str, currency: str, lines: Sequence[SheetLine], entries: int, head: bytes,
              signed_at: datetime, jury: SheetJury | None = None, free_weight: str | None = None,
              blended: Sequence[SheetLine] | None = None) -> bytes:
    """The results sheet's exact bytes: one line per candidate, the totals, the jury's part (if it has one: over
    `blended`, the candidates and votes the board blends, by default `lines`), the ledger's head, the time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerow(("contest", slug, safe_text(name), "", "", ""))
    # The contest's currency first, then any other (money in different currencies is never added up).
    currencies = [currency, *sorted({c for line in lines for c in line.amounts} - {currency})]
    for line in lines:
        writer.writerow(("candidate", safe_text(line.code), safe_text(line.name), line.votes,
                         line.amounts.get(currency, 0), currency))
        for other in currencies[1:]:
            if line.amounts.get(other):
                writer.writerow(("amount", safe_text(line.code), "", "", line.amounts[other], other))
    for index, each in enumerate(currencies):
        votes = sum(line.votes for line in lines) if index == 0 else ""
        writer.writerow(("total", "", "", votes, sum(line.amounts.get(each, 0) for line in lines), each))
    if free_weight is not None:  # a contest that gives free votes: `free,<code>,<name>,<free votes>,,<weight>`
        for line in lines:
            writer.writerow(("free", safe_text(line.code), safe_text(line.name), line.free, "", free_weight))
        writer.writerow(("total_free", "", "", sum(line.free for line in lines), "", free_weight))
    if jury is not None and jury.jury.shown:
        write_jury(writer, lines if blended is None else blended, jury, counted_free=free_weight == "counted")
    writer.writerow(("ledger", str(entries), head.hex(), "", "", ""))
    writer.writerow(("signed_at", signed_at.astimezone(UTC).isoformat(timespec="seconds"), "", "", "", ""))
    return out.getvalue().encode()


def write_jury(writer: Any, lines: Sequence[SheetLine], part: SheetJury, counted_free: bool = False) -> None:
    """The formula, the jury's points and the blend; the public's part is its votes, with the free votes where the
    organiser counts each as a paid one (as the board and the round's decision do)."""
    formula = part.jury.formula
    writer.writerow(("formula", "", formula.describe(), formula.public_weight_pct, formula.jury_weight_pct, ""))
    if part.jury.points is None:
        writer.writerow(("jury", "", "sealed", "", "", ""))
        return
    points = {line.code: part.jury.points.get(part.ids[line.code], 0) for line in lines}
    for line in lines:
        writer.writerow(("jury", safe_text(line.code), safe_text(line.name), points[line.code], "", "points"))
    writer.writerow(("blend", "code", "rank", "public_share_pct", "jury_share_pct", "score_pct"))
    ranked = part.jury.ranked([(part.ids[line.code], line.code) for line in lines],
                              {part.ids[line.code]: line.votes + (line.free if counted_free else 0) for line in lines})
    for row in ranked:
        writer.writerow(("blend", safe_text(row.code), row.rank, percent_text(row.public_share),
                         percent_text(row.jury_share), percent_text(row.score)))


def sign(key: Ed25519PrivateKey, sheet: bytes) -> bytes:
    """The detached signature file: base64 of the 64-byte signature, one line."""
    return base64.b64encode(key.sign(sheet)) + b"\n"


def private_key(text: str) -> Ed25519PrivateKey:
    """A signing key given as PEM (PKCS#8) or as base64 of its 32 raw bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise BadKey("the key is not an Ed25519 key")
            return key
        raw = base64.b64decode(text, validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadKey(f"not an Ed25519 private key (PEM, or base64 of 32 bytes): {exc}") from exc


def public_key(text: bytes) -> Ed25519PublicKey:
    """A public key given as PEM (SubjectPublicKeyInfo) or as base64 of its 32 raw bytes."""
    text = text.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
            if not isinstance(key, Ed25519PublicKey):
                raise BadKey("the key is not an Ed25519 key")
            return key
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadKey(f"not an Ed25519 public key (PEM, or base64 of 32 bytes): {exc}") from exc


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class SignedSheet:
    id: int
    contest_slug: str
    reason: str
    sheet: bytes
    signature: bytes  # the signature file's bytes
    entries: int
    head: bytes
    created_at: datetime


async def verified_ledger(sessions: Sessions, contest_id: int) -> ledger.LedgerReport:
    """The contest's ledger verified, or a refusal: a signature would vouch for a count nobody can check."""
    report = await ledger.verify(sessions, contest_id)
    if not report.clean:
        raise Conflict(f"The ledger of {report.contest_slug} does not verify: run `gateway ledger verify`.",
                       code="ledger_broken")
    return report


async def sign_results(sessions: Sessions, key: Ed25519PrivateKey, contest_id: int, *, reason: str,
                       signed_by: str) -> SignedSheet:
    """Verify the contest's ledger, make its sheet from the ledger's count, sign it and keep it.

    A ledger that does not verify is not signed: a signature would vouch for a count nobody can check."""
    report = await verified_ledger(sessions, contest_id)
    async with sessions.begin() as session:
        contest = await session.get(Contest, contest_id)
        if contest is None:
            raise NotFound("No contest has that id.", code="contest_not_found")
        candidates = (await session.execute(select(Candidate.id, Candidate.code, Candidate.name, Candidate.status)
                                            .where(Candidate.contest_id == contest_id)
                                            .order_by(Candidate.code))).all()
        lines = [SheetLine(code, name, report.votes.get(candidate, 0),
                           {money: amount for (whose, money), amount in report.amounts.items() if whose == candidate},
                           report.free.get(candidate, 0))
                 for candidate, code, name, _ in candidates]
        jury = SheetJury(await public_jury(session, contest_id),
                         {code: candidate for candidate, code, _, _ in candidates})
        signed_at = datetime.now(UTC)
        free_weight = contest.free_vote_weight if contest.free_votes_per_day or report.free else None
        sheet = sheet_csv(contest.slug, contest.name, contest.currency, lines, report.entries, report.head, signed_at,
                          jury, free_weight, await blended_lines(session, contest, lines, candidates, report.entries))
        signature = sign(key, sheet)
        stored = ResultsSheet(contest_id=contest_id, reason=reason, sheet=sheet, signature=signature,
                              public_key=public_raw(key.public_key()), entries=report.entries,
                              head_hash=report.head, signed_by=signed_by, created_at=signed_at)
        session.add(stored)
        await session.flush()
    return SignedSheet(stored.id, contest.slug, reason, sheet, signature, report.entries, report.head, signed_at)


async def blended_lines(session: AsyncSession, contest: Contest, lines: list[SheetLine],
                        candidates: Sequence[Any], entries: int) -> list[SheetLine]:
    """What the jury is blended with, as the board and the round's decision blend it: a show in rounds, its current
    (last) round's own votes among the candidates it began with, never every round's votes among every candidate
    (which could name another winner than the final did); a show of one round, its candidates shown (a hidden one's
    votes are no part of the board's shares)."""
    if contest.current_round_id is not None:
        rounds = list((await session.scalars(select(ContestRound).where(ContestRound.contest_id == contest.id)
                                             .order_by(ContestRound.number))).all())
        current = next((row for row in rounds if row.id == contest.current_round_id), None)
        if current is not None:
            return [SheetLine(line.code, line.name, line.votes, line.amounts, line.free)
                    for line in await round_lines(session, rounds, current, entries)]
    hidden = {code for _, code, _, status in candidates if status is CandidateStatus.HIDDEN}
    return [line for line in lines if line.code not in hidden]


def _signed(sheet: ResultsSheet, slug: str) -> SignedSheet:
    return SignedSheet(sheet.id, slug, sheet.reason, bytes(sheet.sheet), bytes(sheet.signature), sheet.entries,
                       bytes(sheet.head_hash), sheet.created_at)


SHEETS = (select(ResultsSheet, Contest.slug).join(Contest, Contest.id == ResultsSheet.contest_id)
          .order_by(ResultsSheet.created_at.desc(), ResultsSheet.id.desc()))


# The sheets the public sees: signed at close or after it (a late payment counted), never one an auditor signed
# on demand while votes were still coming in.
PUBLISHED_REASONS = ("close", "after_close")


async def latest_sheet(sessions: Sessions, slug: str) -> SignedSheet | None:
    """The contest's latest published sheet (see PUBLISHED_REASONS)."""
    async with autocommit(sessions) as session:
        row = (await session.execute(SHEETS.where(Contest.slug == slug, ResultsSheet.reason.in_(PUBLISHED_REASONS))
                                     .limit(1))).one_or_none()
    return None if row is None else _signed(*row)


async def sheets_of(sessions: Sessions, contest_id: int, last: int = 10) -> list[SignedSheet]:
    """The contest's signed sheets, newest first."""
    async with autocommit(sessions) as session:
        rows = (await session.execute(SHEETS.where(ResultsSheet.contest_id == contest_id).limit(last))).all()
    return [_signed(sheet, slug) for sheet, slug in rows]


async def sheet_of(sessions: Sessions, contest_id: int, sheet_id: int) -> SignedSheet:
    async with autocommit(sessions) as session:
        row = (await session.execute(SHEETS.where(ResultsSheet.contest_id == contest_id,
                                                  ResultsSheet.id == sheet_id))).one_or_none()
    if row is None:
        raise NotFound("No such results sheet.", code="sheet_not_found")
    return _signed(*row)


async def sign_on_demand(sessions: Sessions, key: Ed25519PrivateKey, actor: Actor, contest_id: int) -> SignedSheet:
    """A person (an owner or an auditor) signs the results now; the audit log says who and over which head."""
    signed = await sign_results(sessions, key, contest_id, reason="on_demand", signed_by=actor.email)
    async with sessions.begin() as session:
        await audit.record(session, actor, "results.sign", str(contest_id),
                           details={"entries": signed.entries, "head": signed.head.hex()})
    return signed

