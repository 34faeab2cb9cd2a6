"""Oversight: what the people who run the service watch, decide and take away, across every other wing.

Design overview
---------------

The wing consists of:

- ``review`` - the orders that need a person: money moved and the system would not decide alone (flagged, held,
  a second payment, a partial refund, a refund to pay back by hand or that the provider refused).
- ``orders_admin`` - orders as the admin area sees them (searched, opened with their events, messages and audit
  entries, a receipt sent again), the review queue's decisions, and an owner's refund.
- ``dashboard`` - a contest's figures, each one aggregation over PostgreSQL, with the tally invariant per
  candidate; ``control_room`` - the whole service's figures over the last minutes.
- ``exports`` - a contest's orders, tallies, audit log and money out over a period, streamed row by row.

It mirrors no table of its own: it reads and decides over the others' rows, and only the admin area and the
command line use it. That is why it is a wing of its own, above the rest, rather than a part of any one of them.

Invariants: every decision carries a reason and an audit entry, and keeps the tally equal to the votes of paid
orders; an organiser sees only their contests' figures and rows; figures and exports read the truth in
PostgreSQL and never hold up the vote's path.

Crossings (one-way): oversight imports the money out wing (a decision to refund takes the one refund path), the
money in wing (whether the money came in; the verification backlog), the orders wing (what a decision moves), the
results wing's ledger and the contests wing's detail and scope. No wing imports oversight.
"""
