"""Ballot's assembly: the one package that knows every other (the roof).

Nothing imports it; it imports the channels, the providers (`payments`), the board (`leaderboard`), the admin area,
the clips (`media`) and the foundation (`gateway`), builds each process from their parts and starts it. Its rooms, by
purpose, each importing only those below it (the inner contract of `lint-imports`, exhaustive):

- the top: the `gateway` command (cli.py) and its subcommands (commands/, a module each);
- web/: the web process, `gateway web`: the app factory (app.py: resources in cleanup contexts, then each package's
  routes), health, middleware, /metrics and who may read it, the event loop's watch, its own app keys;
- worker/: the worker, `gateway worker`: RQ's worker (rq_worker.py) and its periodic enqueuer, the job runtime, every
  pass by its name (passes.py, where a path a release before queued still runs) and the roof's own passes;
- machine/: everything on one machine, `gateway run`: the supervisor of the children and its watch of them
  (liveness.py; heartbeat.py, a child's side), the host's shared metrics, the embedded PostgreSQL and Redis, the
  board's fan-out server, the local stand-ins' logs, the demo contests and the banner;
- operations/: the database's backups, a restore and its drill, the embedded path's packages and pgserver's user
  (which a restore's throwaway server runs as), and the rehearsal of a show night (`gateway rehearse`);
- cpu/: where the CPU goes: each part of the service's (a channel's, the relay's...) measured in the web processes and
  the workers and served on /metrics, and an installation's processes on this machine by kind (`gateway rehearse`'s
  figures, the benchmarks');
- resources/: what every process builds from the settings: the one HTTP client and which provider each call went to,
  the payment providers, the media storage, the results-signing key;
- beside the command in the folder, but below every room: `Settings` composed from each package's model
  (settings.py), the logs (logs.py), and the two lists a new plug is one line of (channel_list.py, provider_list.py).

The web process may read the worker's list of passes (whose ages it watches), the worker nothing of the web
process; both sit above the machine (whose supervisor starts them as processes, never imports them). A new command
is a module of commands/; a new part of a process goes to the room of the process that runs it, what both processes
build to resources/."""
