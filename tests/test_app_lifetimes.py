"""An app a test built and served is gone once the test is: nothing of it stays for the process's later tests."""

from __future__ import annotations

import gc
import weakref

from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.app import LentEngines, create_app
from tests.app_lifetimes import forget_served_apps


async def test_an_app_that_served_requests_is_freed_after_its_test(clean: None, settings: Settings,
                                                                   lent_engines: LentEngines) -> None:
    app = create_app(settings, lent=lent_engines)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/api/v1/contests")).status == 200
    app_left = weakref.ref(app)
    del app, client
    forget_served_apps()  # as each test's teardown does (tests/conftest.py)
    gc.collect()
    assert app_left() is None
