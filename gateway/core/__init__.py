"""The vote core: a small flat kernel, a folder (a wing) per domain, and the service that composes them. It imports
no channel, provider, board or assembly.

Design overview
---------------

The wings, each opening with its own overview, from the top down (a wing imports only the wings below it, so every
crossing goes one way; `[tool.importlinter]` in pyproject.toml keeps it so):

- ``oversight`` - the review queue, orders as the admin area sees them, dashboards, the control room, exports;
- ``money_out`` - refunds, payouts, settlements, the books against the providers;
- ``money_in`` - an order's payment: its start (one door, ``start_protocol``), callbacks, status checks, the
  reconciler, verification, chargebacks;
- ``orders`` - an order's life: placed, counted once, closed, refunded; receipts and what a voter may learn;
- ``entries`` - calls for entries and their fees (the counting statement composes a fee's part);
- ``contests`` - contests and candidates, the vote rules, the catalog, the ranking, the organiser's scope;
- ``fraud`` - the rules, their counters and holds (the counting statement composes their parts);
- ``results``, ``media``, ``voters`` - the ledger and the signed sheets; an upload's life; a payer number's
  language and the blocklist.

The kernel stays flat: ``service`` above the wings (the one API every channel calls, composing them); below them,
importing none, the interfaces of what lies outside the core (``providers`` for payments, ``media_storage`` for files,
and those a channel implements or uses: ``channel_settings``, ``channel_queries``, ``channel_reports``,
``phone_texts``); ``worker_passes``, how a wing declares its worker passes (a ``passes`` module of its own, run
by name, given what a pass may use: the sessions, the providers, the pace of status calls, a small store shared by
the workers, the results key), the shape the channels and providers declare theirs in too; and what every wing
shares: ``errors``, ``money``, ``phone``, ``texts`` (the core's gettext catalogs in ``locales/``), ``audit``,
``outbox``, ``entered_text`` (an organiser's text checked), ``entered_number`` (a whole number a person typed,
checked) and ``cells`` (text safe in a spreadsheet).
"""
