"""RQ queues and their Redis connection (RQ is synchronous; the app uses redis.asyncio)."""

from __future__ import annotations

import hashlib

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from gateway.jobs.redis_connections import sync_client

DEFAULT_QUEUE = "default"
# Jobs a voter is waiting on: an SMS vote's answer, which places the order and sends the payment prompt. Every worker
# takes them before the default queue's (receipts, the outbox's batches, the periodic passes): on a machine whose
# cores are full, SMS votes waited a minute behind the receipts of the votes before them (bench/RESULTS.md,
# "rehearsal-peak-45-sms-batches").
ANSWERS_QUEUE = "answers"
QUEUE_NAMES = (ANSWERS_QUEUE, DEFAULT_QUEUE)  # the order a worker takes them in
# Candidates' clips: probed and transcoded by workers of their own (`gateway worker --queue media`), so no ffmpeg
# ever waits in front of a payment's job, and no more of them run at once than there are media workers.
MEDIA_QUEUE = "media"


def sync_redis(url: str) -> redis.Redis:
    return sync_client(url, health_check_interval=30)


def worker_redis(url: str, blocking_seconds: int, answer_seconds: int, connect_seconds: int) -> redis.Redis:
    """A worker's connection, whose calls block up to `blocking_seconds` (RQ's wait for a job). A Redis lost in a
    partition answers nothing and resets nothing: a call fails `answer_seconds` past that (TCP keepalive tells a dead
    peer too) where it held the worker for minutes (RQ's socket time-out, from its 405 s wait), and a connection not
    made within `connect_seconds` fails too (the operator's settings: `GATEWAY_WORKER_REDIS_*_SECONDS`)."""
    keepalive = {} if url.startswith("unix:") else {"socket_keepalive": True}  # a TCP socket's option
    return sync_client(url, health_check_interval=30, socket_timeout=blocking_seconds + answer_seconds,
                       socket_connect_timeout=connect_seconds, **keepalive)


def job_queue(connection: redis.Redis, name: str = DEFAULT_QUEUE) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)


def answers_queue(queue: Queue) -> Queue:
    """The queue of jobs a voter waits on, on `queue`'s connection."""
    return job_queue(queue.connection, ANSWERS_QUEUE)


def batch_job_id(prefix: str, ids: list[int]) -> str:
    """The id of a job carrying `ids`, told by all of them: rows commit out of id order, so two batches may share
    their first and last id with others between them, which an id named by its ends alone would take for one."""
    digest = hashlib.blake2b(",".join(map(str, ids)).encode(), digest_size=6).hexdigest()
    return f"{prefix}-{ids[0]}-{ids[-1]}-{digest}"
