"""Background work's infrastructure: the outbox and its relay, the status checks a web process runs after a callback,
leases, the RQ queues and Redis connections, the record of periodic passes (`last_passes`) and the passes' small store
(`pass_notes`). The passes themselves live in their wings' folders (`passes.py`; the reconciler, the start queue and
the verification loop are money in's: gateway.core.money_in) and in the channels' and providers' parts. It uses the
core and the database and is used by the
assembly, which builds what a job needs (providers, the board: see `assembly.worker.passes`, the worker's passes by
name); the core and the database never import it."""
