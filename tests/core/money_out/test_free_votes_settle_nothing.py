"""Free votes move no money: a contest's settlement statement, made beside its free votes, has the figures of its
paid orders alone, and its signed statement verifies over the ledger that holds both."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.core.audit import Actor
from gateway.core.money_out import settlements
from gateway.core.orders import counting
from gateway.core.orders.free_votes import FreeVoteRequest, take_free_vote
from gateway.core.results.ledger_chain import signature_holds
from gateway.db.engine import Sessions
from tests.factories import make_contest, place

OWNER = Actor(None, "owner@example.org", "owner")


async def test_the_statement_counts_the_paid_orders_and_nothing_of_the_free_votes(sessions: Sessions) -> None:
    contest = await make_contest(sessions, free_votes_per_day=1)  # 100 XAF a vote
    order = await place(sessions, contest, quantity=3)
    await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", "T1", provider="mtn")
    before = (await settlements.settlement(sessions, OWNER, contest.id)).figures
    for index in range(4):
        await take_free_vote(sessions, FreeVoteRequest(contest.slug, "02", f"+23767300000{index}", "ussd"))
    made = await settlements.settlement(sessions, OWNER, contest.id)
    assert made.figures == before  # 300 XAF from one payment, the same as before the four free votes
    [francs] = made.figures
    assert (francs.gross, francs.refunds, francs.net) == (300, 0, 300)
    assert made.entries == 5  # the ledger's head: the payment's entry and the four free ones
    key = Ed25519PrivateKey.generate()
    kept = await settlements.sign_statement(sessions, key, OWNER, contest.id)
    assert signature_holds(key.public_key(), kept.statement, kept.signature)
    assert "total,,XAF,1,300,0," in kept.statement.decode()
