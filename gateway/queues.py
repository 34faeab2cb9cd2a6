"""RQ queues and their Redis connection (RQ is synchronous; the app uses redis.asyncio)."""

from __future__ import annotations

import asyncio
import uuid

import redis
from rq import Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

DEFAULT_QUEUE = "default"
PAYMENTS_QUEUE = "payments"
QUEUE_NAMES = (PAYMENTS_QUEUE, DEFAULT_QUEUE)  # a worker takes payments work first


def sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, health_check_interval=30)


def job_queue(connection: redis.Redis, name: str = DEFAULT_QUEUE) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)


def payment_start_job_id(order_id: uuid.UUID) -> str:
    return f"start-{order_id}"


def enqueue_payment_start_sync(queue: Queue, order_id: uuid.UUID) -> bool:
    """Queue the push of the payment prompt once per order (a replayed request finds the job there)."""
    job_id = payment_start_job_id(order_id)
    if Job.exists(job_id, connection=queue.connection):
        return False
    queue.enqueue("gateway.jobs.start_payment_job", str(order_id), job_id=job_id,
                  retry=Retry(max=4, interval=[2, 5, 15, 30]), result_ttl=3600, failure_ttl=7 * 86400)
    return True


async def enqueue_payment_start(queue: Queue, order_id: uuid.UUID) -> None:
    """The prompt is pushed by the worker, after the voter's reply, with retries on the same reference."""
    await asyncio.to_thread(enqueue_payment_start_sync, queue, order_id)
