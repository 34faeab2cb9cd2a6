"""The contest page's vote form as a browser holds it, for tests that post it."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_ID = re.compile(r'name="form_id" value="([^"]+)"')


async def open_form(client: TestClient, slug: str, **params: str) -> dict[str, str]:
    """What a browser holds after loading the contest page: the CSRF cookie and the form's hidden fields."""
    response = await client.get(f"/c/{slug}", params=params)
    assert response.status == 200
    html = await response.text()
    token, form_id = TOKEN.search(html), FORM_ID.search(html)
    assert token and form_id
    return {"csrf_token": token.group(1), "form_id": form_id.group(1)}
