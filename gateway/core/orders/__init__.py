"""Vote orders: placed before any money moves, counted once when paid, and what a voter is told of them.

Design overview
---------------

The wing consists of, one module per step of an order's life:

- ``placing`` - checked, limited and inserted in one transaction under the payer's lock, judged by the fraud
  rules' figures as it is.
- ``counting`` - a paid order counted once: one statement moves it out of ``pending``, appends its ledger entry,
  adds to the tally and writes its outbox rows (``count_batches`` sends the counts that arrive together as one).
- ``closing`` - an order never paid: failed, expired, cancelled before its start, or flagged for a person.
- ``refunding`` - a refund the provider settled, and an order a person takes off the tally; ``held_together``
  holds a person's earlier orders with a later one a fraud rule held.
- ``accounting`` - what a change of a paid order moves: a vote's ledger entry and tally, or an entry fee's mark.
- ``tables`` (the statements the steps share), ``kept_events`` (a provider's callback kept as it came, as one part
  of the counting statement), ``outcomes`` (the words the payment flow answers with, stored and never changed).
- ``receipts`` - when a voter is told and what (each messaging channel says how); ``order_standing`` - what a
  voter may learn of their order from its receipt's reference.
- ``free_votes`` - not an order: a proven number's free votes of the day or the round, each its row, a ``free``
  entry on the ledger and a free tally apart from the paid one, in one statement; no provider, money check,
  settlement or refund ever sees one.

Invariants: a vote counts exactly once, only after its payment is confirmed, and the tally always equals the votes
of paid orders; every statement that moves an order out of ``pending`` is guarded by its status, so a duplicate,
late or replayed callback changes nothing; statements take their locks in one order (the order, the ledger's
head, the tally), so none wait on each other in a circle.

What it offers: placing, closing and an order's standing to the service; to the money in wing, which drives an
order with what its provider says, counting (with group commit and the kept callback), closing, refunding and the
outcomes it answers with; refunding to money out; accounting to money in's verification and to oversight's
decisions; the receipts to the messaging channels.

Crossings (one-way): the counting statement composes the fraud wing's parts (the judgement at confirmation, the
counter of quick payments) and the entries wing's (an entry fee marked paid); placing reads the fraud counters
and the voters wing's blocklist; the results wing's ledger records every count; the contests wing's rules and
catalog say what may be ordered and how it reads. None of those wings imports orders: the counting statement hands
fraud its own guard on the pending order.
"""
