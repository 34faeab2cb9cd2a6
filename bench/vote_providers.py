"""Which provider `bench.votes` pays its votes with (`--provider`): the contest that accepts it, payer numbers of its
country that its sandbox approves, the cap that paces its requests, and how many of the votes its own callbacks
counted.

MTN pays the main demo contest (XAF, Cameroonian numbers). M-Pesa and Airtel Money pay the Kenyan demo contest (KES):
Safaricom numbers (+25472…) for M-Pesa, Airtel Kenya numbers (+25473…) for Airtel, which the bench adds to that
contest's providers before the load (the seeded contest takes M-Pesa only). The sandboxes decide a payer number by its
last three digits; the 450-459 endings fail or stall, so every provider's voters skip them.

M-Pesa and Airtel pace every request of their application (token, prompt, status query) under one cap
(MPESA_REQUESTS_PER_SECOND, 5 by default; AIRTEL_MONEY_REQUESTS_PER_SECOND, 10), at 90% of it: a closed loop on them
confirms no more votes a second than that, whatever the stack could do. `--cap` raises it for the sandbox (which
enforces neither), so the run measures the stack's own cost per vote with the pacing still taking its turns.

Airtel's callbacks come on the application's one URL, with no per-order secret: one counts at once only when its hash
holds under the application's callback key, else it only brings the status enquiry forward. The bench configures
Airtel as a deployment does (its base URL, client credentials and AIRTEL_MONEY_CALLBACK_KEY, here the sandbox's own
address and key), so its callbacks count at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import asyncpg

# What the local sandbox signs Airtel's callbacks with (payments/sandbox/airtel/state.py); a deployment sets its own.
AIRTEL_SANDBOX_CALLBACK_KEY = "sandbox-airtel-callback-key"
MAGIC_ENDINGS = range(450, 460)  # the sandboxes' failing or stalling payer numbers (GET the sandbox's `/`)


def no_settings(sandbox_url: str) -> dict[str, str]:
    return {}


def airtel_as_deployed(sandbox_url: str) -> dict[str, str]:
    """Airtel's settings as a deployment sets them, its base URL the sandbox's: the callback key is what makes a
    callback count at once (without it the sandbox's key is used all the same, but no deployment runs that way)."""
    return {"AIRTEL_MONEY_BASE_URL": f"{sandbox_url}/airtel", "AIRTEL_MONEY_CLIENT_ID": "bench-client",
            "AIRTEL_MONEY_CLIENT_SECRET": "bench-client-secret",
            "AIRTEL_MONEY_CALLBACK_KEY": AIRTEL_SANDBOX_CALLBACK_KEY}


@dataclass(frozen=True)
class PaidBy:
    """A provider the benchmark's votes are paid with."""

    provider: str
    contest: str  # its slug
    candidates: int  # codes 01..N
    payer_prefix: str  # E.164 up to the last seven digits
    cap_setting: str | None = None  # the setting whose cap paces every request of the provider's application
    cap_default: float | None = None
    settings: Callable[[str], dict[str, str]] = no_settings  # given the sandbox's URL

    def payer(self, number: int) -> str:
        return f"{self.payer_prefix}{number % 10_000_000:07d}"

    def vote(self, number: int) -> dict[str, object]:
        """The JSON API's body of one vote, paid with this provider by payer `number`."""
        return {"candidate": f"{number % self.candidates + 1:02d}", "quantity": 1, "provider": self.provider,
                "msisdn": self.payer(number)}

    def environment(self, sandbox_url: str, cap: float | None) -> dict[str, str]:
        env = self.settings(sandbox_url)
        if cap is not None and self.cap_setting:
            env[self.cap_setting] = f"{cap:g}"
        return env

    def cap_figure(self, cap: float | None) -> str:
        """The cap in force, and what it means for the figures."""
        if not self.cap_setting or self.cap_default is None:
            return ("none on prompts; MTN's 10 status calls a second (enforced by its sandbox) pace only the "
                    "verification, after the vote counted")
        if cap is None:
            return (f"{self.cap_setting} {self.cap_default:g} (its default): every request (token, prompts, status "
                    f"queries) paced at 90% of it, so this closed loop confirms at most ~{self.cap_default * 0.9:.1f} "
                    "votes/s, the cap's figure, not the stack's")
        return (f"{self.cap_setting} {cap:g}, raised for the sandbox (default {self.cap_default:g}; the sandbox "
                "enforces none): every request still takes its paced turn, the stack's own cost is measured")

    async def accept_on_contest(self, database_url: str) -> None:
        """Make the provider one the contest accepts (the Kenyan demo is seeded with M-Pesa only)."""
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute("UPDATE contests SET providers = array_append(providers, $1) "
                                      "WHERE slug = $2 AND NOT $1 = ANY(providers)", self.provider, self.contest)
        finally:
            await connection.close()


PROVIDERS = {
    "mtn": PaidBy("mtn", "demo", 8, "+23767"),
    "mpesa": PaidBy("mpesa", "demo-kenya", 4, "+25472", "MPESA_REQUESTS_PER_SECOND", 5.0),
    "airtel": PaidBy("airtel", "demo-kenya", 4, "+25473", "AIRTEL_MONEY_REQUESTS_PER_SECOND", 10.0,
                     airtel_as_deployed),
}


def next_payer(numbers: Iterator[int]) -> int:
    """The next payer number the sandboxes approve (their magic endings fail or stall: every vote a success)."""
    number = next(numbers)
    while number % 1000 in MAGIC_ENDINGS:
        number = next(numbers)
    return number


async def callbacks_counted(database_url: str, provider: str) -> dict[str, str]:
    """How the provider's votes were counted: from its own callbacks (each then queued for its status check) or by
    a status check alone; and the callbacks it sent, by what they decided."""
    connection = await asyncpg.connect(database_url)
    try:
        paid, from_callback = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE o.status = 'paid'), count(v.order_id) FILTER (WHERE o.status = 'paid') "
            "FROM vote_orders o LEFT JOIN payment_verifications v ON v.order_id = o.id WHERE o.provider = $1",
            provider)
        outcomes = await connection.fetch(
            "SELECT coalesce(outcome, '-') AS outcome, count(*) AS n FROM provider_events WHERE provider = $1 "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 6", provider)
    finally:
        await connection.close()
    events = ", ".join(f"{row['outcome']} {row['n']}" for row in outcomes) or "none"
    return {f"{provider} votes counted from its own callback": f"{from_callback} of {paid} paid "
            f"({paid - from_callback} by a status check alone)",
            f"{provider} events recorded, by outcome (kept: a start's own data, no callback)": events}
