"""Asking for an entry code as a program does, the way the public API documents it: fetch a challenge, find the
nonce whose SHA-256 starts with its zero bits, send both with the number. Solved here with hashlib alone, so the
service's own check is tried against an independent solver."""

from __future__ import annotations

import hashlib
from itertools import count
from typing import Any

from aiohttp.test_utils import TestClient


def solve(salt: str, bits: int) -> str:
    for nonce in count():
        digest = hashlib.sha256(f"{salt}:{nonce}".encode()).digest()
        if int.from_bytes(digest, "big") >> (256 - bits) == 0:
            return str(nonce)
    raise AssertionError("unreachable")


async def challenge_of(web: TestClient, slug: str) -> dict[str, Any]:
    answer = await web.get(f"/api/v1/contests/{slug}/entries/challenge")
    assert answer.status == 200, await answer.text()
    assert answer.headers["Cache-Control"] == "no-store"
    return dict(await answer.json())


async def paid(web: TestClient, slug: str) -> dict[str, str]:
    """A solved challenge: what a code request carries besides the number."""
    challenge = await challenge_of(web, slug)
    return {"challenge": challenge["challenge"], "nonce": solve(challenge["salt"], challenge["bits"])}


async def ask_code(web: TestClient, slug: str, phone: str, **headers: str) -> Any:
    return await web.post(f"/api/v1/contests/{slug}/entries/code", headers=headers,
                          json={"msisdn": phone, **await paid(web, slug)})
