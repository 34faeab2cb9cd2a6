"""Ballot: a mobile-money voting gateway; this package is its foundation.

`core/` (the vote core every channel and provider meets in), `db/` (engine, models, migrations), `jobs/`
(background work) and `kit/` (what channels and the other packages may use beside the core's service). The
foundation imports none of the packages above it: the channels, `payments`, `leaderboard`, `admin`, nor the
assembly (`assembly/`) that puts them all together."""
