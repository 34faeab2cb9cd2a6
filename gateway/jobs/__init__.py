"""Background work: the outbox and its relay, the status checks a web process runs after a callback, leases,
the RQ queues and the record of periodic passes (the reconciler, the start queue and the
verification loop are money in's: gateway.core.money_in). It uses the core and the database and is used by the
assembly, which builds what a job needs (providers, the board: see `assembly.passes`, the worker's passes by name);
the core and the database never import it."""
