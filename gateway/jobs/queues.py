"""RQ queues and their Redis connection (RQ is synchronous; the app uses redis.asyncio)."""

from __future__ import annotations

import redis
from rq import Queue
from rq.serializers import JSONSerializer

DEFAULT_QUEUE = "default"
QUEUE_NAMES = (DEFAULT_QUEUE,)
# Candidates' clips: probed and transcoded by workers of their own (`gateway worker --queue media`), so no ffmpeg
# ever waits in front of a payment's job, and no more of them run at once than there are media workers.
MEDIA_QUEUE = "media"


def sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, health_check_interval=30)


def job_queue(connection: redis.Redis, name: str = DEFAULT_QUEUE) -> Queue:
    return Queue(name, connection=connection, serializer=JSONSerializer)
