"""Ballot: a mobile-money voting gateway.

The modules directly in `gateway` are the assembly (app factory, CLI, worker and its RQ jobs,
supervisor, embedded servers, settings, app keys, logs, health and metrics): the only code that
imports every package. Under it: `core/` (the vote core every channel and provider meets in),
`db/` (engine, models, migrations) and `jobs/` (background work). Imports run one way: assembly ->
channels, payments, leaderboard, admin -> jobs -> core -> db."""
