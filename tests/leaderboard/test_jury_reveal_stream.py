"""The reveal reaches the board's stream at once: viewers (the overlay among them) get the board with the jury's
parts as the organiser reveals them, with no new vote, though each web process trusts its copy of a contest's
settings for a while (10 minutes here) and the stream's heartbeat comes every 30 s: the frame is waited for 10 s at
most, room for a busy machine, under both."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.core.audit import Actor
from gateway.core.contests import jury
from gateway.db.engine import Sessions
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.factories import RULES_OFF, make_contest
from tests.leaderboard.conftest import MakeClient, open_stream
from tests.leaderboard.helpers import ARRIVAL, vote_and_publish

OWNER = Actor(None, "owner@example.com", "owner")


async def test_viewers_get_the_revealed_board_at_once_with_no_new_vote(
        make_client: MakeClient, sessions: Sessions, redis: Redis) -> None:
    client = await make_client(contest_ttl_seconds=600.0)  # no process would read the contest again on its own
    contest = await make_contest(sessions, candidates=2, fraud_rules=RULES_OFF, public_weight_pct=50)
    await vote_and_publish(sessions, redis, contest, "01", 3)
    account = await make_account(sessions, "jury")
    await jury.seat_juror(sessions, OWNER, contest.id, account.email)
    await jury.score(sessions, Actor(account.id, account.email, "jury"), contest.id, {"01": 0, "02": 10})
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))

    _, reader = await open_stream(client, contest.slug)
    try:
        first = await reader.until(lambda event: event.event == "leaderboard")
        assert first.board["formula"]["jury_revealed"] is False
        revealed = await client.post(f"/api/v1/admin/contests/{contest.id}/jury/reveal", headers=owner,
                                     json={"confirm": True})
        assert revealed.status == 200, await revealed.text()
        frame = await reader.until(lambda event: event.event == "leaderboard"
                                   and event.board["formula"]["jury_revealed"], timeout=ARRIVAL)
        # Equal blends (all of the public's votes against all of the jury's points): more public votes first.
        assert [(c["code"], c["rank"], c["score_pct"]) for c in frame.board["candidates"]] == [
            ("01", 1, 50.0), ("02", 2, 50.0)]
    finally:
        await reader.close()
