"""Winners' certificates: what one states, read from a signed results sheet, and the address its QR code carries.

A certificate is made only from a published sheet (signed at or after close), and only from the sheet's own
lines, so every figure on it is a figure someone signed. Its QR code's address names the sheet (its id and the
start of its SHA-256) and the certificate's data (candidate, place, votes; the round and the jury's part when
a show has them); /verify reads that address back as a `Claim` and checks it against the sheet and its
signature, so a certificate whose votes were changed after printing is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.core.results.signing import PUBLISHED_REASONS, SHEETS, SignedSheet, _signed, signature_holds
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Contest, ResultsSheet

# The sheets a certificate is made from and checked against: a contest's signed at or after close, and a round's
# signed once it is decided (gateway/core/results/round_sheets.py's reason, public as the round's result is).
CERTIFYING_REASONS = (*PUBLISHED_REASONS, "round")
DIGEST_HEX = 32  # 128 bits of the sheet's SHA-256: no one makes another sheet with the same start
VERIFY_PATH = "/verify"
MAX_NUMBER = 10**15  # far above any real count; a claim past it is refused before a comparison


@dataclass(frozen=True)
class Standing:
    """A candidate's line of a sheet and its place among them."""

    code: str
    name: str
    votes: int
    place: int
    jury: int | None = None  # the jurors' points added up, on a sheet with a revealed jury


@dataclass(frozen=True)
class CertificateData:
    """What a certificate states. `round`: the round a round's sheet names (None on a contest's sheet); `jury`: the
    jury's points where the sheet has a revealed jury."""

    sheet_id: int
    sheet_digest: str
    contest_slug: str
    contest_name: str
    signed_at: datetime
    code: str
    name: str
    place: int
    votes: int
    round: str | None = None
    jury: int | None = None


def sheet_digest(sheet: bytes) -> str:
    return hashlib.sha256(sheet).hexdigest()[:DIGEST_HEX]


def _rows(sheet: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(sheet.decode())))


def contest_of(sheet: bytes) -> tuple[str, str]:
    """The sheet's contest: (slug, name)."""
    row = next(row for row in _rows(sheet) if row and row[0] == "contest")
    return row[1], row[2]


def round_of(sheet: bytes) -> str | None:
    """A round's sheet names its round (`round,<number>,<name>,...`): its name, else its number."""
    row = next((row for row in _rows(sheet) if row and row[0] == "round"), None)
    return None if row is None else (row[2] or row[1])


def standings(sheet: bytes) -> list[Standing]:
    """The sheet's candidates, first place first, each with the votes that count (paid, and free ones where the
    organiser counts them with the paid: `free` lines marked `counted`).

    A sheet with a jury's blend ranks by its `blend` lines and gives each candidate its `jury` points; a sheet of
    the public alone ranks by votes, as the boards do (gateway/core/contests/ranking.py, a wing above this one):
    ties share a place and the next place skips (1, 1, 3). A jury still sealed decides nothing yet: Conflict."""
    rows = _rows(sheet)
    if any(row[:3] == ["jury", "", "sealed"] for row in rows):
        raise Conflict("The jury's points are not revealed yet: the places are not decided.", code="jury_sealed")
    points = {row[1]: int(row[3]) for row in rows if row and row[0] == "jury" and row[1]}
    ranks = {row[1]: int(row[2]) for row in rows if row and row[0] == "blend" and row[1] != "code"}
    # Free votes the organiser counts with the paid ones are the candidate's votes too, as on the board.
    free = {row[1]: int(row[3]) for row in rows if row and row[0] == "free" and row[5] == "counted"}
    lines = [(row[1], row[2], int(row[3]) + free.get(row[1], 0)) for row in rows if row and row[0] == "candidate"]
    out: list[Standing] = []
    if ranks:
        for code, name, votes in sorted(lines, key=lambda line: ranks[line[0]]):
            out.append(Standing(code, name, votes, ranks[code], points.get(code)))
        return out
    for position, (code, name, votes) in enumerate(sorted(lines, key=lambda line: -line[2]), start=1):
        tied = bool(out) and out[-1].votes == votes
        out.append(Standing(code, name, votes, out[-1].place if tied else position, points.get(code)))
    return out


def certificate_of(signed: SignedSheet, standing: Standing) -> CertificateData:
    slug, name = contest_of(signed.sheet)
    return CertificateData(signed.id, sheet_digest(signed.sheet), slug, name, signed.created_at, standing.code,
                           standing.name, standing.place, standing.votes, round_of(signed.sheet), standing.jury)


def certificate_for(signed: SignedSheet, code: str) -> CertificateData:
    """The certificate of the candidate with that code; NotFound when the sheet has none."""
    for standing in standings(signed.sheet):
        if standing.code == code:
            return certificate_of(signed, standing)
    raise NotFound(f"The signed results have no candidate {code}.", code="candidate_not_found")


def finalists(signed: SignedSheet, top: int) -> list[CertificateData]:
    """The certificates of the first `top` places (ties at the last place included)."""
    return [certificate_of(signed, each) for each in standings(signed.sheet) if each.place <= top]


def verify_query(data: CertificateData) -> dict[str, str]:
    """The certificate's data as the QR code's address carries them."""
    query = {"sheet": str(data.sheet_id), "digest": data.sheet_digest, "code": data.code, "place": str(data.place),
             "votes": str(data.votes)}
    if data.round is not None:
        query["round"] = data.round
    if data.jury is not None:
        query["jury"] = str(data.jury)
    return query


def verify_url(base_url: str, data: CertificateData) -> str:
    return f"{base_url.rstrip('/')}{VERIFY_PATH}?{urlencode(verify_query(data))}"


@dataclass(frozen=True)
class Claim:
    """What a certificate's QR code says: the sheet it was made from, and its figures."""

    sheet_id: int
    digest: str
    code: str
    place: int
    votes: int
    round: str | None = None
    jury: int | None = None


def _number(query: Mapping[str, str], name: str) -> int:
    text = query.get(name, "").strip()
    if not text.isdigit() or len(text) > 15 or int(text) > MAX_NUMBER:
        raise DomainError(f"The certificate's {name} must be a whole number.", code="bad_certificate", field=name)
    return int(text)


def parse_claim(query: Mapping[str, str]) -> Claim | None:
    """The claim of a QR code's address; None when the address names no sheet (a receipt look-up)."""
    if "sheet" not in query:
        return None
    digest = query.get("digest", "").strip().lower()
    code = query.get("code", "").strip()
    if len(digest) != DIGEST_HEX or any(c not in "0123456789abcdef" for c in digest):
        raise DomainError("The certificate's sheet digest is not one.", code="bad_certificate", field="digest")
    if not code or len(code) > 8:
        raise DomainError("The certificate names no candidate code.", code="bad_certificate", field="code")
    round_ = query.get("round")
    return Claim(_number(query, "sheet"), digest, code, _number(query, "place"), _number(query, "votes"),
                 None if round_ is None else round_[:64], _number(query, "jury") if "jury" in query else None)


class Verdict(StrEnum):
    MATCHES = "matches"  # the sheet's signature holds and the certificate states what it says
    DIFFERS = "differs"  # the signature holds, but the certificate's figures are not the sheet's
    BAD_SIGNATURE = "bad_signature"  # the sheet kept here no longer checks against the published key
    UNKNOWN_SHEET = "unknown_sheet"  # no published sheet has that id and digest


@dataclass(frozen=True)
class CertificateCheck:
    verdict: Verdict
    truth: CertificateData | None  # what the signed sheet says of that candidate (None: the sheet is not there)
    differing: tuple[str, ...] = ()  # the certificate's fields that are not the sheet's


COMPARED = ("code", "place", "votes", "round", "jury")


def check_claim(claim: Claim, signed: SignedSheet | None, key: Ed25519PublicKey) -> CertificateCheck:
    """Whether the claim is what the signed sheet says; the signature is checked first, every time."""
    if signed is None or sheet_digest(signed.sheet) != claim.digest:
        return CertificateCheck(Verdict.UNKNOWN_SHEET, None)
    if not signature_holds(key, signed.sheet, signed.signature):
        return CertificateCheck(Verdict.BAD_SIGNATURE, None)
    try:
        truth = certificate_for(signed, claim.code)
    except DomainError:  # no such candidate, or a jury still sealed (no certificate is made from that sheet)
        return CertificateCheck(Verdict.DIFFERS, None, ("code",))
    stated = {field.name: getattr(claim, field.name) for field in fields(claim)}
    differing = tuple(name for name in COMPARED if stated[name] != getattr(truth, name))
    return CertificateCheck(Verdict.DIFFERS if differing else Verdict.MATCHES, truth, differing)


@dataclass(frozen=True)
class PublishedSheet:
    signed: SignedSheet
    time_zone: str  # its contest's clock, for the dates shown
    later: datetime | None  # when a later published sheet of its contest was signed (a late payment counted)


async def published_sheet(sessions: Sessions, sheet_id: int) -> PublishedSheet | None:
    """A sheet a certificate may be made from (CERTIFYING_REASONS) by its id; None for any other."""
    async with autocommit(sessions) as session:
        row = (await session.execute(SHEETS.add_columns(Contest.time_zone)
                                     .where(ResultsSheet.id == sheet_id,
                                            ResultsSheet.reason.in_(CERTIFYING_REASONS)))).one_or_none()
        if row is None:
            return None
        sheet, slug, zone = row
        later = None if sheet.reason not in PUBLISHED_REASONS else await session.scalar(
            select(ResultsSheet.created_at)
            .where(ResultsSheet.contest_id == sheet.contest_id, ResultsSheet.reason.in_(PUBLISHED_REASONS),
                   ResultsSheet.id > sheet.id)
            .order_by(ResultsSheet.id.desc()).limit(1))
    return PublishedSheet(_signed(sheet, slug), zone, later)
