"""The web's pages in a real browser need the app on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from assembly.settings import Settings
from assembly.web.app import create_app
from tests.servers import free_port


@pytest.fixture
async def light_work_site(clean: None, settings: Settings) -> AsyncIterator[str]:
    """The app on a real port, a code request's work made light (10 bits: a browser finds it at once), for the pages
    that prove a number with a texted code (an entry's, a free vote's)."""
    port = free_port()
    async with TestServer(create_app(settings.model_copy(update={"code_work_bits": 10})), port=port):
        yield f"http://127.0.0.1:{port}"
