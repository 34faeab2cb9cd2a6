"""Money out, and the books it is kept by: refunds, payouts to organisers, settlements, the books against providers.

Design overview
---------------

The wing consists of:

- ``refunds`` - the one refund path (``gateway refund``, the review queue, an owner's refund): through the
  provider where it can, else marked for a person.
- ``late_refunds`` - payments confirmed after the lines closed and their grace (the contests wing's ``late_votes``),
  never counted, given back through ``refunds`` by a pass of the worker.
- ``payouts`` - an organiser's payout account, requests and approvals, out of the settlement's balance.
- ``transfers`` - money a provider sends out by its own API, one machine for every kind of it: a row per sum owed
  whose id is the provider's reference, claimed under a lease, sent, looked at again and settled; what a refused
  resend means is decided there, once. Its two kinds: ``refunds_sent`` (refunds owed back, settled on their order)
  and ``payouts_sent`` (approved payouts to a wallet). ``outgoing_notices`` - a provider's callback about money
  going out, which only brings the next look forward.
- ``settlements`` - what a contest took, what the providers and the platform keep, what went back and what its
  organiser is owed, as a signed statement.
- ``money_check`` (each day's books against the provider's word) and ``balance_books`` (an account's balance
  against how the books say it moved): differences kept for a person; ``money_reconciliation`` reads a day of a
  provider's word against the books, a share per pass, and ``balance_check`` reads the balances against them.
- ``passes`` - its worker passes: refunds, payouts, late refunds, the daily money check and the hourly balances.

It mirrors ``gateway.db.models.money_out``.

Invariants: a refund or payout row, whose id is the reference the provider gets, is written before the first call,
so a crash between the call and the record resends the same reference and the provider pays it once; one worker
sends it at a time; a resend the provider refuses fails only once the provider says it never got the first; a refund
is sent only for money the provider says came in; a payout never exceeds the settlement's balance; money in two
currencies is never added up; every decision is audited.

What it offers: ``request_refund`` to the oversight wing's decisions; the refunds and payouts passes, the money
check and the balance check to the worker's jobs; settlements and payouts to the admin area.

Crossings (one-way): money out asks the money in wing whether money came in (``money_arrived``) and how the provider
sees the order (``collections``); a refund settles on the order through the orders wing's ``refunding``; the
contests wing's scope check finds the contest; a statement is signed with the results wing's key. None of them
imports money out.
"""
