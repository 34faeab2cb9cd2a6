"""A worker asked to stop (SIGTERM) in the middle of a job while its Redis does not answer (a Redis stopped, a
network cut): prints "ready", then "stops after the job" once the signal's handler has returned. A handler that
talked to Redis would wait there for good, and the job under way with it."""

import os
import signal
import socket
import sys

import redis
from rq import Queue

from assembly.settings import LivenessSettings
from assembly.worker.rq_worker import Worker

with socket.socket() as silent:
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # connections complete (the kernel does it); nothing ever answers
    answering = redis.Redis.from_url(sys.argv[1])  # the worker starts while its Redis answers
    worker = Worker([Queue(connection=answering)], connection=answering, liveness=LivenessSettings())
    worker.connection = redis.Redis(port=silent.getsockname()[1])  # then it stops answering
    worker.job_under_way = True  # as its execute_job marks it
    worker._install_signal_handlers()  # as its work() does
    print("ready", flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    print("stops after the job" if worker.asked_to_stop else "?", flush=True)
