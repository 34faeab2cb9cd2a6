"""Contests and their candidates: what a contest is, who may change it, and what a voter sees of it.

Design overview
---------------

The wing consists of:

- ``contests_admin`` - the organisers' operations on contests and candidates, each checked and audited in its own
  transaction; ``contest_drafts`` - what an organiser types, checked without I/O.
- ``scope`` - which contests an admin may act on; the other wings' operations for the admin area (an entry's
  review, a settlement, a payout, a refund) find their contest there, so one rule decides what an organiser sees.
- ``catalog`` - the read side: contests, candidates and a voter's order as plain values, never ORM rows, so that
  every channel reads the same facts.
- ``rules`` - the vote rules as pure functions: what may be ordered, and how an order's state may move.
- ``ranking`` - the one ranking rule every board shows, and the port (``BoardReader``) the core reads a board by.
- ``jury`` - a contest's jury in the admin area: the organiser's formula (before opening), seats and confirmed
  reveal, each juror's sealed scores; it takes the results wing's ``blend`` and ``jury_parts``.

Invariants: a contest goes draft -> open <-> paused -> closed, and a closed one no longer changes; two live contests
never hold channel settings that clash (a USSD code, an SMS keyword: each channel checks its own); a candidate's
code is unique in its contest; an organiser's view holds only their own contests (another's is as absent as a
missing one).

What it offers: the vote rules to the orders, money in and entries wings (checked before any money moves); the
scope check to the entries and money out wings, and a contest's detail to oversight; to entries, what an approved
entry needs to become a candidate (codes, positions, the candidate's fields and snapshot); the catalog's values and
the ranking to the orders wing (a receipt, an order's standing), the service and the channels.

Crossings (one-way): a contest's settings include its fraud thresholds, so it imports the fraud wing's
``FraudRules``; hiding a candidate or replacing its photo changes who may fetch its files, so it imports the media
wing's ``uploads``. Neither imports it back.
"""
