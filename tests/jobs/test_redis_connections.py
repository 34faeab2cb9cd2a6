"""REDIS_URL as an operator writes it: a plain server's, or a group of sentinels' (redis+sentinel://), read into what
redis-py's Sentinel client is given; a malformed one refused at start-up with its reason, its password never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from redis.backoff import NoBackoff
from redis.retry import Retry

from assembly.settings import Settings
from gateway.jobs.redis_connections import (
    SENTINEL_PORT,
    BlockingSentinelPool,
    RedisUrlError,
    SendKeepingCancellation,
    SentinelUrl,
    bounded_async_client,
    parse_sentinel_url,
    redis_url_problem,
)


def test_three_sentinels_a_master_name_and_a_db_are_read() -> None:
    found = parse_sentinel_url("redis+sentinel://:s3cret@10.0.0.1:26380,10.0.0.2:26381,redis-c/ballot/2")
    assert found == SentinelUrl(sentinels=(("10.0.0.1", 26380), ("10.0.0.2", 26381), ("redis-c", SENTINEL_PORT)),
                                master="ballot", db=2, password="s3cret")
    assert found.server_options() == {"db": 2, "username": None, "password": "s3cret", "ssl": False}


def test_the_db_defaults_to_0_and_the_sentinels_own_password_comes_from_the_query() -> None:
    found = parse_sentinel_url("rediss+sentinel://app:p%40ss@[fd00::1]:26390/main?sentinel_password=watch")
    assert (found.sentinels, found.master, found.db) == ((("fd00::1", 26390),), "main", 0)
    assert (found.username, found.password, found.tls) == ("app", "p@ss", True)
    assert (found.sentinel_password, found.sentinel_options(Retry(NoBackoff(), 0))["password"]) == ("watch", "watch")


@pytest.mark.parametrize(("url", "reason"), [
    ("redis+sentinel://h1:26379,h2:26379", "the path must be /<master name>"),
    ("redis+sentinel://h1:26379/ballot/0/extra", "the path must be /<master name>"),
    ("redis+sentinel://h1:26379/ballot/first", "the db 'first' is not a whole number"),
    ("redis+sentinel://h1:port/ballot", "the sentinel port 'port' is not a whole number"),
    ("redis+sentinel://h1:70000/ballot", "the sentinel port '70000'"),
    ("redis+sentinel://h1:26379,,h3:26379/ballot", "an empty sentinel address"),
    ("redis+sentinel://h1:26379/ballot?service_name=x", "unknown option(s) service_name"),
    ("sentinel://h1:26379/ballot", "must start with redis://, rediss://, unix:// or redis+sentinel://"),
    ("redis://h1:notaport/0", "Port could not be cast"),
])
def test_a_malformed_url_is_refused_with_its_reason(url: str, reason: str) -> None:
    problem = redis_url_problem(url)
    assert problem is not None and reason in problem, problem


def test_plain_urls_stay_accepted() -> None:
    for url in ("redis://127.0.0.1:6390/3", "rediss://user:pw@cache.example.org:6390/0", "unix:///run/r.sock?db=2"):
        assert redis_url_problem(url) is None, url


def test_a_refusal_never_shows_a_password() -> None:
    with pytest.raises(RedisUrlError) as refused:
        parse_sentinel_url("redis+sentinel://:hunter22@h1:26379/ballot/x?sentinel_password=watch99")
    assert "hunter22" not in str(refused.value) and "watch99" not in str(refused.value)
    assert ":***@h1" in str(refused.value)


def test_settings_refuse_a_malformed_sentinel_url_at_start_up() -> None:
    with pytest.raises(ValidationError, match="the path must be /<master name>"):
        Settings(_env_file=None, redis_url="redis+sentinel://h1:26391,h2:26392")
    assert Settings(_env_file=None, redis_url="redis+sentinel://h1:26391,h2:26392/ballot/1").redis_url


async def test_the_web_apps_pool_behind_sentinel_stays_bounded_and_blocking() -> None:
    client = bounded_async_client("redis+sentinel://127.0.0.1:1/ballot", max_connections=7, timeout=3,
                                  health_check_interval=30)
    pool = client.connection_pool
    assert isinstance(pool, BlockingSentinelPool)
    assert (pool.max_connections, pool.timeout, pool.service_name) == (7, 3, "ballot")
    assert pool.connection_kwargs["health_check_interval"] == 30
    assert issubclass(pool.connection_class, SendKeepingCancellation)  # as the plain clients' (test_redis_cancellation)
    await client.aclose()
