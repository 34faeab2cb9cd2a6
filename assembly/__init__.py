"""Ballot's assembly: the one package that knows every other.

The app factory, the CLI and its commands, the worker and its job runtime, the supervisor of `gateway run`,
the embedded servers, health, metrics, middleware, logs, the list of channels and the composition of `Settings`.
Nothing imports it; it imports the channels, the providers (`payments`), the board (`leaderboard`), the admin
area and the foundation (`gateway`)."""
