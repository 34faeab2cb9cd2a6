"""Exports of many orders from one web process of the whole stack: time, and what the export adds to the
process's peak memory (VmHWM reset with clear_refs just before), with rows and sums checked.

    python -m bench.exports [--rows 1000000] [--formats csv,xlsx]

The suite shows that memory stays bounded with CSV at 200,000 rows and XLSX at 20,000
(tests/admin/test_export_memory.py); this is the million rows of each, too slow for the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import aiohttp
import pyotp
from sqlalchemy import text, update

from admin.accounts import create_admin
from admin.totp_keys import TotpKeys, totp_keys
from assembly.settings import Settings
from bench.harness import print_report, record, running_stack
from gateway.db.engine import create_engine, session_factory
from gateway.db.models import AdminUser
from tests.admin.exports_data import insert_orders
from tests.admin.test_export_memory import memory_kb, reset_peak, sum_csv, sum_xlsx

PASSWORD = "a long enough password"


async def measure(database_url: str, base_url: str, pid: int, rows: int, formats: list[str], keys: TotpKeys
                  ) -> dict[str, str]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    sessions = session_factory(engine)
    made = await create_admin(sessions, keys, "bench-auditor@example.com", PASSWORD, "auditor")
    secret = parse_qs(urlparse(made.totp_uri).query)["secret"][0]
    async with sessions.begin() as session:
        await session.execute(update(AdminUser).where(AdminUser.id == made.id)
                              .values(totp_confirmed_at=datetime.now(UTC)))
        contest_id = (await session.execute(text("SELECT id FROM contests WHERE slug = 'demo'"))).scalar_one()
    started = time.monotonic()
    await insert_orders(sessions, contest_id, rows)
    figures = {"orders inserted": f"{rows} in {time.monotonic() - started:.1f} s"}
    async with sessions() as session:
        expected = tuple((await session.execute(text(
            "SELECT count(*), sum(amount), sum(quantity) FROM vote_orders WHERE contest_id = :c"),
            {"c": contest_id})).one())
    await engine.dispose()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base_url}/api/v1/admin/token", json={
                "email": made.email, "password": PASSWORD, "code": pyotp.TOTP(secret).now()}) as response:
            headers = {"Authorization": f"Bearer {(await response.json())['access_token']}"}
        for fmt in formats:
            reset_peak(pid)
            before, started = memory_kb(pid, "VmRSS"), time.monotonic()
            with tempfile.TemporaryDirectory() as scratch:
                async with http.get(f"{base_url}/api/v1/admin/contests/{contest_id}/exports/orders.{fmt}",
                                    headers=headers, timeout=aiohttp.ClientTimeout(total=3600)) as response:
                    got = await (sum_csv(response) if fmt == "csv" else sum_xlsx(response, Path(scratch)))
            figures[f"{fmt}"] = (f"{time.monotonic() - started:.1f} s (download and reading it back); web RSS "
                                 f"{before // 1024} MB before, peak {memory_kb(pid, 'VmHWM') // 1024} MB during; "
                                 f"rows and sums {'equal' if got == expected else f'DIFFER: {got} vs {expected}'}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    args = parser.parse_args()
    with running_stack(web_processes=1) as stack:
        (web_pid,) = stack.web_pids()
        keys = totp_keys(Settings(gateway_data_dir=stack.data_dir))  # the stack's: its environment's, or its folder's
        figures = asyncio.run(measure(stack.database_url, stack.base_url, web_pid, args.rows,
                                      args.formats.split(","), keys))
    record("exports", print_report(f"exports: {args.rows} orders from one web process", figures))


if __name__ == "__main__":
    main()
