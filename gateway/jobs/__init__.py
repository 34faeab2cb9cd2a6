"""Background work: the outbox and its relay, the reconciler, payment starts and checks, leases,
status-call pacing, the RQ queues and the record of periodic passes. It uses the core and the
database and is used by the assembly, which builds what a job needs (providers, the board: see
`assembly.passes`, the worker's passes by name); the core and the database never import it."""
