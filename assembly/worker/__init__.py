"""The worker (`gateway worker`): RQ's worker and the passes it runs.

The process (rq_worker.py: RQ's worker, its scheduler, and the periodic enqueuer, periodic_enqueuer.py, a light child
of its own), the job runtime (job_runtime.py: what a job runs with, the entry points of the channels' and providers'
jobs), every pass by its name (passes.py: the wings' `PASSES`, one entry point, and the paths a release before
queued) and the roof's own passes (worker_jobs.py)."""
