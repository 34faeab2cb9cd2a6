"""Results anyone can check: the vote ledger every tally is made from, and the signed results sheets.

Design overview
---------------

The wing consists of:

- ``ledger`` - every counting event (a payment counted, reversed, held, released, refunded, a person's decision)
  appended to a per-contest hash chain, in the transaction that moves the tally; its checkpoints and its
  verification.
- ``ledger_chain`` - the chain's bytes and hashes as pure functions, so that anyone recomputes them offline.
- ``signing`` - a contest's results sheet made from its verified ledger and signed with Ed25519, at close and on
  demand.
- ``checkpoints`` - the ledger's rounds: an hourly checkpoint of each chain that grew, and at close a checkpoint and
  a signed results sheet; ``passes`` runs them every few minutes in the worker.
- ``blend`` - how the public's votes and a jury's points make one result, as pure arithmetic (the formula, each
  candidate's shares and blended score, the ranking and its tie rule); ``jury_parts`` - what the public may know of
  a contest's jury: its formula, and its points once the organiser revealed them (the sheet, the board, the overlay).

Invariants: a tally moves only from a ledger entry appended in the same statement, so neither exists without the
other; entries are appended, never changed; a sheet is signed only from a ledger that verifies.

What it offers: the ledger's statement parts (``append_ctes``, ``tally_added_from``) and ``append_event`` to every
wing that moves votes (orders, fraud's holds, money in's verification, oversight's decisions); the signing key's
functions to money out (a settlement statement is signed with the same key) and to the service.

It imports no other wing: the ledger is the bottom of every change of a tally, and nothing it does depends on why
the change was made.
"""
