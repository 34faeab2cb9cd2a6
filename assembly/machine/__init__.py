"""The machine and its servers (`gateway run`): everything on one machine.

The supervisor of the children (supervisor.py), its watch of them (liveness.py; heartbeat.py, a child's side) and the
figures the host's processes share (shared_metrics.py); the embedded PostgreSQL and Redis (embedded.py), the board's
fan-out server (fanout_server.py), the local stand-ins' logs (stand_in_logs.py); the demo contests and their clips
(demo.py, demo_media.py) and what `gateway run` prints once up (banner.py)."""
