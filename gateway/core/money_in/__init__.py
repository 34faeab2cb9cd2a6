"""Money in: an order's payment as the core sees it, from the provider's start to the provider's word, verified.

Design overview
---------------

The wing consists of:

- ``start_protocol`` - the one door of a new order's payment: the terms its order is placed on, then ``begin``, which
  starts a payment page at once or owes a phone prompt to the process's starter (a prompt asked again goes through
  it too); ``starting`` - a start itself, once, under a lease, with no database connection held during the
  provider's call; ``start_queue`` - the web process's starter: prompts pushed after the reply, retried, at most so
  many at once, leases given back at a stop; ``starting_again`` and ``prompting_again`` - a new prompt for the same
  order when the provider says the last one will never be paid; ``collections`` - the order as its provider sees it.
- ``callback_settling`` - a provider's callback (as ``payments/callbacks.py`` took it in) kept raw, verified, and
  settled when it is proof; otherwise it only asks for a status check. ``in_chat`` - a payment made inside a chat
  (Stars), checked before the charge.
- ``checking`` - asking a provider about an order and settling what it says; ``reasons`` - its failure codes in
  words a voter understands.
- ``reconciler`` and ``reconciler_sweep`` - the pass that finds pending orders whose callback is late or lost and
  asks their provider, under its cap; ``found_paid`` - how many it found paid, by provider (lost callbacks);
  ``passes`` - the wing's worker passes and the reconciler pass's body (the roof hands it the worker's parts).
- ``verification/`` - what was counted on an authenticated callback's word, checked later with the provider's status
  (``by_status``) or its list of payments (``by_list``), the most money at risk first (``priority``, ``ranking``),
  by each web process's ``loop`` and a share of each reconciler pass; a disagreement takes the votes back off and
  flags the order.
- ``money_arrived`` - whether a payment's money reached us, in the provider's own words (asked before any of it is
  given back); ``chargebacks`` - a card's owner disputed a payment and the bank took the money back.

Providers are reached only through the kernel's ``gateway.core.providers`` interface; a provider never touches
the database.

Invariants: a vote counts only on the provider's word: a signed event, its status call, or a callback carrying the
order's secret (then checked again later with its status); a callback with neither only asks for a status check;
duplicate, late, lost or forged callbacks and crashes lose nothing and double nothing.

What it offers: the start protocol and chat payments to the service; the status check, the reconciler's pass and
the verification loop and passes to the roof (the worker and the web process); ``money_arrived`` and ``collections``
to the money out wing (a refund is sent only for money that came in) and to oversight.

Crossings (one-way): money in drives the orders wing (counting, closing, refunding) with what a provider says, and
reads the contests wing's rules (a chat payment is checked against the contest before the charge); a chargeback
notes its payer in the fraud wing's counters; the verification records a reversal on the results wing's ledger.
None of them imports payments, gateway.jobs or the roof: what a pass needs of the worker (its paces, its lease,
the note of its age) is handed in.
"""
