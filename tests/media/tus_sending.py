"""A file sent to the media server as a browser's uploader sends it: the grant's tus upload made, then the bytes in
two parts (a resumed upload's PATCHes)."""

from __future__ import annotations

import io
from typing import Any

from aiohttp.test_utils import TestClient


async def send_by_tus(media: TestClient, grant: dict[str, Any], data: bytes) -> None:
    path = grant["url"].split("://", 1)[1].split("/", 1)[1]
    auth = {"Authorization": grant["fields"]["authorization"], "Tus-Resumable": "1.0.0"}
    made = await media.post(f"/{path}", headers={**auth, "Upload-Length": str(len(data))})
    assert made.status in (200, 201, 204), await made.text()
    half = len(data) // 2
    for start, end in ((0, half), (half, len(data))):
        sent = await media.patch(f"/{path}", data=io.BytesIO(data[start:end]), headers={
            **auth, "Upload-Offset": str(start), "Content-Type": "application/offset+octet-stream"})
        assert sent.status == 204, await sent.text()
