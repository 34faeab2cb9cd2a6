"""The board's own app keys: its stream limits, its database connections, its boards and its live hub (filled by
`leaderboard.routes.setup` and the assembly)."""

from __future__ import annotations

from aiohttp import web

from gateway.db.engine import Sessions
from leaderboard.boards import Boards
from leaderboard.config import StreamConfig
from leaderboard.fanout import FanoutPublisher
from leaderboard.hub import Hub

LEADERBOARD_CONFIG = web.AppKey("leaderboard_config", StreamConfig)
# The board's own database connections (the assembly makes them): its reads and its relay's refreshes never wait
# for one behind the process's requests.
LEADERBOARD_SESSIONS = web.AppKey("leaderboard_sessions", Sessions)
LEADERBOARD_BOARDS = web.AppKey("leaderboard_boards", Boards)
LEADERBOARD_HUB = web.AppKey("leaderboard_hub", Hub)
# Set only when BOARD_FANOUT_URL names a fan-out server: the process's candidate publisher to it.
LEADERBOARD_FANOUT = web.AppKey("leaderboard_fanout", FanoutPublisher)
