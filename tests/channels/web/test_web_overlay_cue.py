"""The overlay's layouts and the control room's cue over HTTP: `?layout=` checked like the other options; the
producer's show/hide and layout, set in the control room, reach every open overlay on the board's own stream (the
board carries the cue), and the page opens as cued. Who may cue: whoever may change the contest."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from gateway.db.engine import Sessions
from gateway.kit.overlay_cue import OverlayCue, read_cue
from tests.admin.accounts import api_tokens, bearer, browser_sign_in, make_account
from tests.factories import RULES_OFF, make_contest
from tests.leaderboard.conftest import open_stream
from tests.leaderboard.helpers import ARRIVAL, vote_and_publish


async def test_a_layout_that_is_not_one_is_a_clear_400(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.get("/c/gala/overlay?layout=lowerthird")
    assert response.status == 400
    assert (await response.json())["error"]["message"] == "layout: one of board, strip, corner."
    for layout in ("board", "strip", "corner"):
        html = await (await client.get(f"/c/gala/overlay?layout={layout}")).text()
        assert f'class="overlay stage layout-{layout}"' in html


async def test_the_control_rooms_cue_reaches_an_open_overlays_stream_and_a_new_page(
        client: TestClient, sessions: Sessions, redis: Redis) -> None:
    contest = await make_contest(sessions, slug="gala", fraud_rules=RULES_OFF)
    await vote_and_publish(sessions, redis, contest, "01", 2)
    response, events = await open_stream(client, "gala")
    try:
        first = await events.until(lambda event: event.event == "leaderboard")
        assert first.board["overlay"] == {"shown": True, "layout": None}
        owner = await make_account(sessions, "owner")
        token = await browser_sign_in(client, owner)
        room = await (await client.get("/admin/control")).text()
        assert f'action="/admin/control/overlay/{contest.id}"' in room and 'data-overlay="gala"' in room
        cued = await client.post(f"/admin/control/overlay/{contest.id}",
                                 data={"csrf_token": token, "shown": "0", "layout": "corner"}, allow_redirects=False)
        assert cued.status == 303 and cued.headers["Location"] == "/admin/control#overlays"
        hidden = await events.until(lambda event: event.board.get("overlay", {}).get("shown") is False, timeout=ARRIVAL)
        assert hidden.board["overlay"] == {"shown": False, "layout": "corner"}
        assert [c["votes"] for c in hidden.board["candidates"]][:1] == [2]  # the same board, with the cue
    finally:
        await events.close()
        response.close()
    html = await (await client.get("/c/gala/overlay?layout=board")).text()  # the cue's layout wins, hidden
    assert 'class="overlay stage layout-corner off"' in html
    room = await (await client.get("/admin/control")).text()
    assert 'data-overlay="gala" data-shown="no" data-layout="corner"' in room


async def test_only_those_who_may_change_the_contest_cue_its_overlay(
        client: TestClient, sessions: Sessions, redis: Redis) -> None:
    contest = await make_contest(sessions, slug="gala")
    support = await make_account(sessions, "support", "support@example.com")
    refused = await client.post(f"/api/v1/admin/control/overlay/{contest.id}", json={"shown": False},
                                headers=bearer(await api_tokens(client, support)))
    assert refused.status == 403
    assert await read_cue(redis, contest.id) == OverlayCue()
    owner = await make_account(sessions, "owner")
    headers = bearer(await api_tokens(client, owner))
    typo = await client.post(f"/api/v1/admin/control/overlay/{contest.id}", json={"shown": True, "layout": "big"},
                             headers=headers)
    assert typo.status == 400
    done = await client.post(f"/api/v1/admin/control/overlay/{contest.id}", json={"shown": True, "layout": "strip"},
                             headers=headers)
    assert done.status == 200 and await done.json() == {"contest_id": contest.id, "shown": True, "layout": "strip"}
    assert await read_cue(redis, contest.id) == OverlayCue(True, "strip")
