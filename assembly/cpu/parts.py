"""The parts of the service its CPU is accounted to (`gateway_cpu_seconds_total{part}`), named by the module of the
code that runs: a route's handler, a background task's coroutine, a worker pass's function. Each channel is a part
(its folder's name: channels.ussd.routes is `ussd`); so are the payments (the providers' callbacks and what they set
off: the vote's count, its status checks; the providers' passes), the outbox's relay and its deliveries, the
verification of callback-counted orders, the reconciler, the board, the admin area, the clips, the health routes
and /metrics. Work a part sets off is that part's: a payment prompt started by a USSD vote is USSD's."""

from __future__ import annotations

CHANNELS_PACKAGE = "channels."
# The first prefix a module starts with names its part (a channel's module: its channel).
BY_MODULE: tuple[tuple[str, str], ...] = (
    ("payments.", "payments"),
    ("gateway.jobs.relay", "relay"),
    ("gateway.jobs.outbox", "relay"),
    ("gateway.core.money_in.verification.", "verification"),
    ("gateway.core.money_out.", "money-out"),
    ("leaderboard.", "board"),
    ("admin.", "admin"),
    ("media.", "media"),
    ("assembly.web.health", "health"),
)
OTHER = "other"

# How the rehearsal shows them: the channels a vote comes through, then the background they share.
CHANNEL_PARTS = ("web", "ussd", "sms", "telegram")
SHARED_PARTS = ("payments", "relay", "verification", "reconciler", "board")


def part_of_module(module: str) -> str | None:
    """The part code of `module` is accounted to; None for a module no part owns (aiohttp's, the loop watch's)."""
    if module.startswith(CHANNELS_PACKAGE):
        return module.split(".", 2)[1]
    return next((part for prefix, part in BY_MODULE if module.startswith(prefix)), None)
