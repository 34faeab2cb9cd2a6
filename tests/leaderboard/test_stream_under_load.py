"""The board's frames while a web process is under a show's load: its request connections all in use and voters'
requests queueing for one. The board's refresh and its reads have connections of their own; on the requests'
connections, frames were seconds late (the refresh's read and the contest's settings, each waiting its turn)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from assembly.machine.database_connections import REQUEST_CONNECTIONS
from assembly.web.keys import ENGINE
from gateway.core.orders import counting
from gateway.db.engine import Sessions
from gateway.kit.keys import RELAY
from tests.factories import make_contest, place
from tests.leaderboard.conftest import MakeClient
from tests.leaderboard.test_stream import OpenStream, votes_of

# A frame takes milliseconds, a loaded machine's seconds; one behind the requests' connections never comes here.
FRAME_WAIT = 30.0


async def test_a_viewer_sees_a_vote_while_every_request_connection_is_taken(
        make_client: MakeClient, streams: OpenStream, sessions: Sessions) -> None:
    client = await make_client(relay=True)
    contest = await make_contest(sessions, candidates=2)
    _, reader = await streams(client, contest.slug)
    first = await reader.next()
    assert first is not None and first.board["total_votes"] == 0
    async with AsyncExitStack() as taken:
        for _ in range(REQUEST_CONNECTIONS):  # every one, held as requests under load hold them
            await taken.enter_async_context(client.app[ENGINE].connect())
        # Counted where connections are free (another web process's callback, the worker's reconciler).
        order = await place(sessions, contest, "02", 3)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, order.currency, "txn-1",
                                       provider=order.provider)
        client.app[RELAY].kick()
        frame = await reader.until(lambda event: event.board["total_votes"] == 3, timeout=FRAME_WAIT)
    assert votes_of(frame.board) == {"02": 3, "01": 0}
