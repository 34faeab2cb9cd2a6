"""Photos sent together cost the vote-taking web process one bounded decode, not one each: six of the
largest photo taken (a small PNG that decodes to 12 megapixels of RGBA), at once, to a web process of its
own (tests/admin/export_server.py) whose peak resident size is theirs alone; larger ones are refused."""

from __future__ import annotations

import asyncio
import functools
import io

import aiohttp
from PIL import Image
from sqlalchemy import select

from gateway.db.engine import Sessions
from gateway.db.models import Candidate
from tests.admin.accounts import make_account
from tests.admin.test_export_memory import memory_kb, reset_peak, token, web_process  # noqa: F401
from tests.factories import make_contest

UPLOADS = 6
# The bound: six of them took a process from 275 MB to 2,081 MB before; one decode at a time of
# at most 12 Mpx is some 60 MB.
GROWTH_LIMIT_KB = 150 * 1024


@functools.cache
def flat_png(width: int, height: int, mode: str = "RGBA") -> bytes:
    """One colour all over: a few hundred KB of PNG that decodes to width x height pixels."""
    out = io.BytesIO()
    Image.new(mode, (width, height), 120 if mode.startswith("I") else (40, 90, 200, 128)).save(out, format="PNG")
    return out.getvalue()


async def test_six_of_the_largest_photos_at_once_add_under_150_mb_to_the_web_process(
        sessions: Sessions, web_process: tuple[int, str]) -> None:  # noqa: F811
    pid, base = web_process
    contest = await make_contest(sessions, candidates=UPLOADS)
    async with sessions() as session:
        ids = list(await session.scalars(select(Candidate.id).where(Candidate.contest_id == contest.id)))
    photo = flat_png(4000, 2999)  # 11,996,000 pixels: just under the limit
    assert len(photo) < 300_000
    owner = await make_account(sessions, "owner")
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {await token(http, base, owner)}", "Content-Type": "image/png"}

        async def upload(candidate_id: int, data: bytes) -> int:
            async with http.post(f"{base}/api/v1/admin/candidates/{candidate_id}/photo", data=data,
                                 headers=headers) as response:
                return response.status

        reset_peak(pid)
        before = memory_kb(pid, "VmRSS")
        statuses = await asyncio.gather(*(upload(candidate_id, photo) for candidate_id in ids))
        peak = memory_kb(pid, "VmHWM")
        print(f"{UPLOADS} photos at once: RSS {before // 1024} MB before, peak {peak // 1024} MB")
        assert statuses == [200] * UPLOADS
        assert peak - before < GROWTH_LIMIT_KB, f"the photos added {(peak - before) // 1024} MB to the peak"
        too_large = await upload(ids[0], flat_png(6400, 6250))  # the old limit's 40 Mpx in 155 KB
        sixteen_bits = await upload(ids[0], flat_png(1000, 1000, "I;16"))
    assert (too_large, sixteen_bits) == (413, 415)
    async with sessions() as session:
        urls = set(await session.scalars(select(Candidate.photo_url).where(Candidate.contest_id == contest.id)))
    assert len(urls) == UPLOADS and None not in urls


def test_a_grey_or_palette_photo_is_taken_in_colour() -> None:
    """The modes people's phones and editors produce still work (pure: no server needed)."""
    from media.photos import reencode

    for mode, colour in (("1", 1), ("L", 90), ("LA", (90, 255)), ("P", 3), ("RGBA", (9, 9, 9, 0))):
        out = io.BytesIO()
        Image.new(mode, (1200, 900), colour).save(out, format="PNG")
        with Image.open(io.BytesIO(reencode(out.getvalue()))) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (800, 600)), mode
