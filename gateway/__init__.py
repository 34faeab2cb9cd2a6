"""Ballot: a mobile-money voting gateway. The `gateway` package holds the app, the settings, the
database and the vote core that every channel and payment provider meets in."""
