"""Fraud: the signals that hold a paid order for a person's look, and the figures they are read from.

Design overview
---------------

The wing consists of:

- ``rules`` - the rules as plain data and pure functions: each a signal (a figure around the order against a
  threshold an honest fan stays under) worth some points; an order is held when its points reach the contest's
  hold score.
- ``fraud_counters`` - the rules' figures as counters per contest, subject and window, kept while orders are
  placed, so that reading them costs the same at the millionth vote as at the first; ``counter_sweep`` removes
  those nobody will read again.
- ``holds`` - what ties the rules to orders: the placement's verdict, the parts of the counting statement that
  judge a payment at confirmation, and a person's decision on a held order (count it once, or refuse it).
- ``hold_figures`` - how many orders each rule held and what people made of them: what thresholds are tuned by.
- ``shared_addresses`` (the operators' networks, ``data/carrier_networks.csv``) and ``shared_learning`` (addresses
  learned from many payers): addresses a crowd shares, whose address rules allow a crowd's figures.

Invariants: a rule never refuses a vote, it holds a paid order (the contest's limits and the blocklist refuse,
before any prompt); a held order counts only when a person releases it, and then once; no rule's figure is read
from a scan of the order table on the vote's path; a shared address is judged as a crowd, its payers each as a
person.

What it offers: ``FraudRules`` to the contests wing (a contest's thresholds are among its settings); the counters
and the placement's verdict to orders' placing; ``judged_at_confirmation``, ``paid_or_held``, ``held_reason_now``
and ``quick_payment_counted`` to orders' counting statement, which composes them; ``note_refused`` to payments'
chargebacks; the rules' names and ``rules_of`` to orders' ``held_together``; ``is_shared`` to the service.

Crossings (one-way): the orders wing imports fraud to compose its parts, never the reverse; the counting statement
hands ``judged_at_confirmation`` its own guard on the pending order rather than fraud reading the order wing's.
Fraud imports only the results wing, whose ledger records a held order's release or refusal.
"""
