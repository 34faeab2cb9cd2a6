"""A contest's settlement statement: gross per provider and currency, the providers' fees by the owner's rates,
refunds, the platform's commission on what the contest kept, the net owed to the organiser; in integers of minor
units that add up, Stars apart from francs; signed with the results key over the ledger head it was made at."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from gateway.core.audit import Actor
from gateway.core.money_in import chargebacks
from gateway.core.money_out import settlements
from gateway.core.money_out.settlements import FeeRate, Takings, share, statements
from gateway.core.orders import counting, refunding
from gateway.core.results.ledger_chain import signature_holds
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, ProviderFeeRate, VoteOrder
from tests.factories import make_contest, place

OWNER = Actor(None, "owner@example.org", "owner")


def test_the_figures_add_up_and_round_once_half_up() -> None:
    takings = [Takings("mtn", "XAF", 3, 1500, 500), Takings("orange", "XAF", 1, 333, 0),
               Takings("stars", "XTR", 2, 10, 0)]
    rates = {("mtn", "XAF"): FeeRate(percent_bp=150, fixed_minor=5), ("orange", "XAF"): FeeRate(percent_bp=200)}
    [francs, stars] = statements(takings, rates, commission_bp=1000, paid_out={"XAF": 100})
    assert [line.fees for line in francs.lines] == [share(1500, 150) + 15, share(333, 200)] == [38, 7]
    assert (francs.gross, francs.refunds, francs.fees) == (1833, 500, 45)
    assert francs.commission == 133  # 10% of the 1,333 kept
    assert francs.net == 1833 - 500 - 45 - 133 == 1155 and francs.balance == 1055
    assert (stars.currency, stars.gross, stars.fees, stars.commission, stars.net) == ("XTR", 10, 0, 1, 9)
    assert share(5, 1000) == 1 and share(4, 1000) == 0  # 0.5 rounds up, 0.4 down


async def test_a_contests_statement_is_made_from_its_payments_and_signed_over_its_ledger(sessions: Sessions) -> None:
    contest = await make_contest(sessions)  # 100 XAF a vote
    for quantity, txn in ((3, "T1"), (2, "T2"), (5, "T3")):
        order = await place(sessions, contest, quantity=quantity, msisdn=f"+23767000000{quantity}")
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", txn, provider="mtn")
    await place(sessions, contest, quantity=9)  # never paid: no money, in no figure
    async with sessions.begin() as session:
        await session.execute(update(Contest).where(Contest.id == contest.id).values(commission_bp=1000))
        session.add(ProviderFeeRate(provider="mtn", currency="XAF", percent_bp=200, fixed_minor=0, updated_by="o"))
        refunded = await session.scalar(VoteOrder.__table__.select().where(VoteOrder.provider_txn_id == "T2")
                                        .with_only_columns(VoteOrder.id))
    assert refunded is not None
    await refunding.uncount(sessions, refunded, OrderStatus.REFUND_REQUESTED, "owed back")  # 200 XAF
    made = await settlements.settlement(sessions, OWNER, contest.id)
    [francs] = made.figures
    assert (francs.gross, francs.refunds, francs.fees, francs.commission, francs.net) == (1000, 200, 20, 80, 700)
    assert made.entries == 4  # three counted, one refunded: the ledger head the figures were made at
    key = Ed25519PrivateKey.generate()
    kept = await settlements.sign_statement(sessions, key, OWNER, contest.id)
    assert signature_holds(key.public_key(), kept.statement, kept.signature)
    text = kept.statement.decode()
    assert "total,,XAF,3,1000,200,20,80,700" in text and f"ledger,,,4,,,,,{made.head.hex()}" in text
    assert [s.id for s in await settlements.statements_of(sessions, OWNER, contest.id)] == [kept.id]


async def test_a_chargeback_is_a_refund_the_statement_names(sessions: Sessions) -> None:
    contest = await make_contest(sessions)
    orders = []
    for quantity, txn in ((4, "C1"), (6, "C2")):
        order = await place(sessions, contest, quantity=quantity, provider="stripe", msisdn=None)
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", txn, provider="stripe")
        orders.append(order)
    assert await chargebacks.record_chargeback(sessions, orders[0].id)  # 400 XAF taken back by the card's bank
    [francs] = (await settlements.settlement(sessions, OWNER, contest.id)).figures
    assert (francs.gross, francs.refunds, francs.chargebacks, francs.net) == (1000, 400, 400, 600)
    text = (await settlements.sign_statement(sessions, Ed25519PrivateKey.generate(), OWNER, contest.id)).statement
    assert "total,,XAF,2,1000,400,0,0,600" in text.decode() and "chargebacks,,XAF,,,400,,," in text.decode()
