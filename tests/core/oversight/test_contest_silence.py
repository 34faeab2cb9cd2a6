"""Silence per contest: a contest on air that takes no order is seen, whatever the other contests take."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from gateway.core.audit import Actor
from gateway.core.contests import contests_admin
from gateway.core.oversight.contest_silence import SILENCE_HORIZON, contest_silences
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ContestStatus, VoteOrder
from tests.factories import make_contest, place

NO_VOTES_SECONDS = 600  # NoVotesArriving's threshold (deploy/prometheus/rules.yml)


async def placed_ago(sessions: Sessions, contest: Contest, ago: timedelta) -> None:
    order = await place(sessions, contest)
    async with sessions.begin() as session:
        await session.execute(update(VoteOrder).where(VoteOrder.id == order.id)
                              .values(created_at=func.now() - ago))


def silence_samples(exposition: str) -> dict[str, float]:
    return {contest: float(value) for contest, value in
            re.findall(r'^gateway_contest_silence_seconds\{contest="([^"]+)"\} (\S+)$', exposition, re.MULTILINE)}


async def test_of_two_contests_on_air_only_the_silent_one_is_silent_on_metrics(
        client: TestClient, sessions: Sessions) -> None:
    voted = await make_contest(sessions, slug="first-show")
    silent = await make_contest(sessions, slug="second-show")
    await placed_ago(sessions, silent, timedelta(minutes=25))  # its last vote, 25 minutes ago
    await placed_ago(sessions, voted, timedelta(minutes=40))
    await placed_ago(sessions, voted, timedelta(seconds=20))

    silences = silence_samples(await (await client.get("/metrics")).text())
    assert set(silences) == {"first-show", "second-show"}
    assert silences["first-show"] < NO_VOTES_SECONDS
    assert 25 * 60 <= silences["second-show"] < 26 * 60


async def test_silence_runs_from_the_opening_and_only_while_on_air(sessions: Sessions) -> None:
    now = datetime.now(UTC)
    await make_contest(sessions, slug="just-opened", opens_at=now - timedelta(minutes=20))
    early = await make_contest(sessions, slug="voted-before-opening", opens_at=now - timedelta(minutes=5))
    await placed_ago(sessions, early, timedelta(minutes=8))  # a test vote before the window: no silence of 8 minutes
    await make_contest(sessions, slug="long-silent", opens_at=now - timedelta(hours=5))
    await make_contest(sessions, slug="opens-tomorrow", opens_at=now + timedelta(days=1),
                       closes_at=now + timedelta(days=2))
    await make_contest(sessions, slug="paused", status=ContestStatus.PAUSED)
    await make_contest(sessions, slug="closed-window", opens_at=now - timedelta(days=2),
                       closes_at=now - timedelta(days=1))

    async with sessions() as session:
        at = await session.scalar(select(func.now()))
        assert at is not None
        silences = await contest_silences(session, at)
    assert set(silences) == {"just-opened", "voted-before-opening", "long-silent"}
    assert 20 * 60 <= silences["just-opened"] < 21 * 60  # no order ever: silent since it went on air
    assert 5 * 60 <= silences["voted-before-opening"] < 6 * 60
    assert silences["long-silent"] == SILENCE_HORIZON.total_seconds()  # looked back half an hour, no further


async def test_a_contest_resumed_is_silent_from_its_resume_not_from_before_its_pause(sessions: Sessions) -> None:
    """Its last vote 25 minutes ago, then paused and resumed just now: silent since the resume, not for 25 minutes
    (nobody could vote while it was paused), so its resume does not page at once."""
    contest = await make_contest(sessions, slug="resumed", opens_at=datetime.now(UTC) - timedelta(hours=1))
    await placed_ago(sessions, contest, timedelta(minutes=25))  # the last vote before the pause
    actor = Actor(None, "owner@example.org", "owner")
    await contests_admin.change_status(sessions, actor, contest.id, "pause")
    await contests_admin.change_status(sessions, actor, contest.id, "open")

    async with sessions() as session:
        at = await session.scalar(select(func.now()))
        assert at is not None
        silences = await contest_silences(session, at)
    assert silences["resumed"] < 60
