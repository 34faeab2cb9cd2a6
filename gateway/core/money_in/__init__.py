"""Money in: an order's payment as the core sees it, from the provider's start to the provider's word, verified.

Design overview
---------------

The wing consists of:

- ``starting`` - an order's payment started once, under a lease, with no database connection held during the
  provider's call; ``collections`` - the order as its provider sees it.
- ``callbacks`` - a provider's callback kept raw, verified, and settled when it is proof; otherwise it only asks
  for a status check. ``in_chat`` - a payment made inside a chat (Stars), checked before the charge.
- ``checking`` - asking a provider about an order and settling what it says; ``reasons`` - its failure codes in
  words a voter understands.
- ``verification`` and ``verification_by_list`` - what was counted on an authenticated callback's word, checked
  later with the provider's status (or its list of payments), within its rate limits; a disagreement takes the
  votes back off and flags the order.
- ``money_arrived`` - whether a payment's money reached us, in the provider's own words (asked before any of it is
  given back); ``chargebacks`` - a card's owner disputed a payment and the bank took the money back.

Providers are reached only through the kernel's ``gateway.core.providers`` interface; a provider never touches
the database.

Invariants: a vote counts only on the provider's word: a signed event, its status call, or a callback carrying the
order's secret (then checked again later with its status); a callback with neither only asks for a status check;
duplicate, late, lost or forged callbacks and crashes lose nothing and double nothing.

What it offers: starts and chat payments to the service; the status check and the verification pass to the
worker's jobs; ``money_arrived`` and ``collections`` to the money out wing (a refund is sent only for money that came
in) and to oversight.

Crossings (one-way): money in drives the orders wing (counting, closing, refunding) with what a provider says, and
reads the contests wing's rules (a chat payment is checked against the contest before the charge); a chargeback
notes its payer in the fraud wing's counters; the verification records a reversal on the results wing's ledger.
None of them imports payments.
"""
