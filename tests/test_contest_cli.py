"""`gateway contest pause | resume`, as the operator on call runs it on show night: the command on the real
database, the admin area's own operation and audit entry, voters told at once."""

from __future__ import annotations

import getpass

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Contest, ContestStatus
from tests.commands import command_env, gateway
from tests.factories import make_contest


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return command_env(settings)


async def status_of(sessions: Sessions, contest_id: int) -> ContestStatus:
    async with sessions() as session:
        found = await session.scalar(select(Contest.status).where(Contest.id == contest_id))
    assert found is not None
    return found


async def audited(sessions: Sessions, contest_id: int) -> list[tuple[str, str, str, str]]:
    async with sessions() as session:
        rows = (await session.scalars(select(AuditEntry).where(AuditEntry.target == f"contest:{contest_id}")
                                      .order_by(AuditEntry.id))).all()
    return [(row.action, row.actor, (row.before or {})["status"], (row.after or {})["status"]) for row in rows]


async def vote_status(client: TestClient, slug: str) -> tuple[int, str]:
    response = await client.post(f"/api/v1/contests/{slug}/votes", json={
        "candidate": "01", "quantity": 1, "provider": "mtn", "msisdn": "+237670000001"})
    body = await response.json()
    return response.status, str(body.get("error", {}).get("message", ""))


async def test_pause_then_resume_by_slug_and_number_as_the_admin_area_does(
        client: TestClient, sessions: Sessions, env: dict[str, str]) -> None:
    contest = await make_contest(sessions, slug="gala", name="Gala Night")
    me = f"cli:{getpass.getuser()}"

    paused = gateway("contest", "pause", "gala", env=env)
    assert paused.returncode == 0, paused.stderr
    assert f"contest gala (#{contest.id}, Gala Night): open -> paused, audited as {me}" in paused.stdout
    assert "gateway contest resume gala" in paused.stdout  # the way back, printed
    assert await status_of(sessions, contest.id) is ContestStatus.PAUSED
    assert await vote_status(client, "gala") == (422, "Voting is paused for this contest.")

    resumed = gateway("contest", "resume", str(contest.id), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "paused -> open" in resumed.stdout and "Voting is open again, until" in resumed.stdout
    assert await status_of(sessions, contest.id) is ContestStatus.OPEN
    assert (await vote_status(client, "gala"))[0] == 201
    assert await audited(sessions, contest.id) == [("contest.pause", me, "open", "paused"),
                                                   ("contest.open", me, "paused", "open")]


async def test_what_cannot_be_done_is_refused_and_changes_nothing(sessions: Sessions, env: dict[str, str]) -> None:
    paused = await make_contest(sessions, slug="paused-one", status=ContestStatus.PAUSED)
    draft = await make_contest(sessions, slug="not-yet", status=ContestStatus.DRAFT)

    again = gateway("contest", "pause", "paused-one", env=env)
    assert (again.returncode, again.stderr.strip()) == (2, "gateway: A paused contest cannot be paused.")
    # A resume never opens a draft: a slip of the slug must not start a show.
    opened = gateway("contest", "resume", "not-yet", env=env)
    assert opened.returncode == 2 and "not-yet is draft, not paused: there is nothing to resume" in opened.stderr
    unknown = gateway("contest", "pause", "nope", env=env)
    assert unknown.returncode == 2 and "No contest has the slug or number 'nope'" in unknown.stderr
    assert (await status_of(sessions, paused.id), await status_of(sessions, draft.id)) == (
        ContestStatus.PAUSED, ContestStatus.DRAFT)
    assert await audited(sessions, paused.id) == await audited(sessions, draft.id) == []


async def test_a_slug_of_digits_is_the_contest_of_that_slug(sessions: Sessions, env: dict[str, str]) -> None:
    numbered = await make_contest(sessions)
    named = await make_contest(sessions, slug=str(numbered.id))  # "2026" is a fair slug, and may be a number too
    done = gateway("contest", "pause", str(numbered.id), env=env)
    assert done.returncode == 0, done.stderr
    assert (await status_of(sessions, named.id), await status_of(sessions, numbered.id)) == (
        ContestStatus.PAUSED, ContestStatus.OPEN)
