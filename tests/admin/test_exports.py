"""Exports of a contest: rows and sums equal the database's for the period asked, as CSV and XLSX; cells
never run as formulas; auditors and owners only, each export audited, nothing exported to anyone else."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlalchemy import text

from gateway.db.engine import Sessions
from gateway.db.models import ContestOrganiser
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.admin.exports_data import insert_orders
from tests.admin.seeding import seeded_contest
from tests.factories import make_contest


async def scalar(sessions: Sessions, statement: str, **params: Any) -> Any:
    async with sessions() as session:
        return (await session.execute(text(statement), params)).scalar_one()


async def csv_rows(client: TestClient, path: str, headers: dict[str, str], **query: str) -> list[dict[str, str]]:
    response = await client.get(path, headers=headers, params=query)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(await response.text())))


async def xlsx_rows(client: TestClient, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    book = load_workbook(io.BytesIO(await response.read()), read_only=True)
    header, *rows = list(book.active.iter_rows(values_only=True))
    book.close()
    # A read-only sheet leaves a row's empty trailing cells out.
    return [dict(zip(header, (*row, *[None] * (len(header) - len(row))), strict=True)) for row in rows]


async def test_orders_and_tallies_match_the_database_in_csv_and_xlsx(client: TestClient, sessions: Sessions
                                                                     ) -> None:
    contest = await seeded_contest(sessions)
    async with sessions.begin() as session:  # three orders of an earlier day, outside the period asked
        await session.execute(text("UPDATE vote_orders SET created_at = '2026-01-01T10:00:00Z' WHERE id IN "
                                   "(SELECT id FROM vote_orders WHERE contest_id = :c ORDER BY id LIMIT 3)"),
                              {"c": contest.id})
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    base = f"/api/v1/admin/contests/{contest.id}/exports"

    every = await csv_rows(client, f"{base}/orders.csv", auditor)
    assert len(every) == await scalar(sessions, "SELECT count(*) FROM vote_orders WHERE contest_id = :c",
                                      c=contest.id) == 16
    assert sum(int(r["amount"]) for r in every) == await scalar(
        sessions, "SELECT sum(amount) FROM vote_orders WHERE contest_id = :c", c=contest.id)
    recent = await csv_rows(client, f"{base}/orders.csv", auditor, **{"from": "2026-02-01"})
    assert len(recent) == 13
    early = await csv_rows(client, f"{base}/orders.csv", auditor, **{"from": "2026-01-01", "to": "2026-01-02"})
    assert len(early) == 3

    book = await xlsx_rows(client, f"{base}/orders.xlsx", auditor)
    assert len(book) == 16 and sum(r["amount"] for r in book) == sum(int(r["amount"]) for r in every)
    paid_votes = await scalar(sessions, "SELECT sum(votes) FROM tallies WHERE contest_id = :c", c=contest.id)
    assert sum(int(r["votes"]) for r in await csv_rows(client, f"{base}/tallies.csv", auditor)) == paid_votes == 17
    assert sum(r["votes"] for r in await xlsx_rows(client, f"{base}/tallies.xlsx", auditor)) == 17

    logged = await csv_rows(client, f"{base}/audit.csv", auditor)
    assert [r["action"] for r in logged] == ["export.orders"] * 4 + ["export.tallies"] * 2 + ["export.audit"]
    assert logged[1]["actor"] == "auditor@example.com" and '"from": "2026-02-01T00:00:00+00:00"' in logged[1][
        "details"] and '"format": "csv"' in logged[1]["details"]


async def test_a_cell_that_looks_like_a_formula_stays_text(client: TestClient, sessions: Sessions) -> None:
    contest = await seeded_contest(sessions)
    async with sessions.begin() as session:
        await session.execute(text("UPDATE vote_orders SET status_reason = '=HYPERLINK(\"http://x\")' "
                                   "WHERE contest_id = :c AND status = 'failed'"), {"c": contest.id})
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    base = f"/api/v1/admin/contests/{contest.id}/exports/orders"
    rows = await csv_rows(client, f"{base}.csv", owner)
    reasons = {r["status_reason"] for r in rows if r["status"] == "failed"}
    assert reasons == {"'=HYPERLINK(\"http://x\")"}
    assert {r["voter_msisdn"][:2] for r in rows if r["voter_msisdn"]} == {"'+"}
    book = await xlsx_rows(client, f"{base}.xlsx", owner)
    assert {r["status_reason"] for r in book if r["status"] == "failed"} == reasons


async def test_only_auditors_and_owners_export_and_nothing_leaves_for_others(client: TestClient,
                                                                             sessions: Sessions) -> None:
    contest = await seeded_contest(sessions)
    theirs = await make_account(sessions, "organiser")
    async with sessions.begin() as session:
        session.add(ContestOrganiser(contest_id=contest.id, admin_id=theirs.id))
    support = await make_account(sessions, "support")
    for account in (theirs, support):
        headers = bearer(await api_tokens(client, account))
        for path in ("orders.csv", "audit.xlsx", "tallies.csv"):
            response = await client.get(f"/api/v1/admin/contests/{contest.id}/exports/{path}", headers=headers)
            assert response.status == 403 and (await response.json())["error"]["code"] == "forbidden"
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    bad = await client.get(f"/api/v1/admin/contests/{contest.id}/exports/orders.csv", headers=owner,
                           params={"from": "yesterday"})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "from"
    missing = await client.get("/api/v1/admin/contests/999999/exports/orders.csv", headers=owner)
    assert missing.status == 404
    assert await scalar(sessions, "SELECT count(*) FROM audit_log WHERE action LIKE 'export.%'") == 0
    paths = (await (await client.get("/api/v1/admin/openapi.json")).json())["paths"]
    assert "Export orders" in paths["/api/v1/admin/contests/{contest_id}/exports/{kind}.{fmt}"]["get"]["summary"]
    assert "dashboard" in paths["/api/v1/admin/contests/{contest_id}/dashboard"]["get"]["summary"]


async def test_tallies_come_in_the_order_the_organiser_set(client: TestClient, sessions: Sessions) -> None:
    contest = await seeded_contest(sessions)
    async with sessions.begin() as session:  # listed the other way round from their codes
        await session.execute(text("UPDATE candidates SET position = -id WHERE contest_id = :c"), {"c": contest.id})
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    rows = await csv_rows(client, f"/api/v1/admin/contests/{contest.id}/exports/tallies.csv", auditor)
    codes = [row["candidate"] for row in rows]
    assert len(codes) > 1 and codes == sorted(codes, reverse=True)


async def test_a_workbook_is_built_off_the_event_loop_that_answers_the_voters(client: TestClient,
                                                                              sessions: Sessions) -> None:
    """openpyxl's work, most of an XLSX export's CPU, runs in a thread: on the web process's event loop it held every
    voter of that process 0.3-0.6 s for each 2,000 rows. Told by CPU time, which a busy machine does not stretch:
    the loop's thread (this test's) spends well under half of what the process spends on the export (0.95 with the
    rows appended on the loop, 0.12-0.14 off it)."""
    contest = await make_contest(sessions, candidates=3)
    await insert_orders(sessions, contest.id, 3000)
    auditor = bearer(await api_tokens(client, await make_account(sessions, "auditor")))
    loop_before, process_before = time.thread_time(), time.process_time()
    response = await client.get(f"/api/v1/admin/contests/{contest.id}/exports/orders.xlsx", headers=auditor)
    assert response.status == 200 and len(await response.read()) > 100_000
    on_loop, in_all = time.thread_time() - loop_before, time.process_time() - process_before
    assert on_loop < in_all / 2, f"{on_loop:.2f} s of the export's {in_all:.2f} s of CPU on the event loop"
