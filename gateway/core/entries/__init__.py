"""Calls for entries: candidates enter a contest themselves, and an organiser makes candidates of them.

Design overview
---------------

The wing consists of:

- ``entering`` - the candidate's side: grants to upload, the entry itself, its private page, a new clip; every step
  on a number proven by a one-time code.
- ``entries_review`` - the organiser's side: open the call, review the entries, approve them (each becomes a
  candidate with the next free code, its clip and photo) or reject them with a reason the candidate is told.
- ``candidate_media`` - an organiser's own clip or photo for a candidate, sent to the storage and prepared as an
  entry's are, set once ready.
- ``entry_slots`` - which entries take one of a call's places (an unpaid one only for a while).
- ``entry_fees`` - an entry's fee, paid as a vote is: an order that buys the entry instead of votes.
- ``entry_texts`` - what a candidate is texted: the code, the decision.

Invariants: a call never holds more standing entries than its places (the call's row is locked first by whoever
counts them); an entry's files are the candidate's own and at the storage before the entry is sent; a fee goes
through every safeguard of a vote's payment, and its payment marks the entry paid in the counting statement itself,
on no ledger (the ledger records votes, and a fee buys none); a decision is audited and texted once it commits.

What it offers: ``fee_paid_from``, ``set_fee_paid`` and the fee's topic to the orders wing, whose counting
statement and accounting move an entry's fee as they move a vote's tally; ``entering`` and ``place_entry_fee`` to
the service.

Crossings (one-way): the orders wing imports the entry fees to compose them into counting; entries never imports
orders (its outbox rows go through the kernel's ``outbox``). Entries imports the contests wing (an approved entry
becomes a candidate: codes, positions, the scope check, the vote rules a fee's payer is checked by) and the media
wing (an entry's uploads); neither imports it back.
"""
