"""Pictures in the sizes pages show them: a phone fetches a candidate's photo as a small square beside their clip,
and the contest page's tiles as small copies of the posters, never the 800 px photo; a photo stored before sizes
still shows."""

from __future__ import annotations

import io
import re
from html import unescape

from aiohttp.test_utils import TestClient
from PIL import Image

from assembly.settings import Settings
from gateway.db.engine import Sessions
from tests.admin.accounts import api_tokens, bearer, make_account
from tests.channels.web.candidate_clips import FILES_URL, candidate_id, give_clip
from tests.factories import make_contest


def photo_jpeg(width: int = 800, height: int = 600) -> io.BytesIO:
    out = io.BytesIO()
    # Noise, not a flat colour: a photo's bytes, so the sizes' savings are a photo's too.
    Image.effect_noise((width, height), 60).convert("RGB").save(out, format="JPEG", quality=90)
    out.seek(0)
    return out


def img_attributes(html: str, css_class: str) -> dict[str, str]:
    tag = re.search(rf'<img class="{css_class}"[^>]*>', html)
    assert tag, html
    return {name: unescape(value) for name, value in re.findall(r'([a-z]+)="([^"]*)"', tag.group(0))}


async def test_the_photo_beside_a_clip_comes_in_small_sizes_that_are_served(
        client: TestClient, sessions: Sessions, settings: Settings) -> None:
    contest = await make_contest(sessions, slug="gala", candidates=2)
    await give_clip(sessions, contest, "01")
    owner = bearer(await api_tokens(client, await make_account(sessions, "owner")))
    stored = await client.post(f"/api/v1/admin/candidates/{await candidate_id(sessions, contest, '01')}/photo",
                               data=photo_jpeg(), headers={**owner, "Content-Type": "application/octet-stream"})
    assert stored.status == 200, await stored.text()
    original = (await stored.json())["photo_url"]
    html = await (await client.get("/c/gala/01", params={"lang": "en"})).text()
    img = img_attributes(html, "cand-photo small")
    assert img["width"] == img["height"] == "96" and img["sizes"] == "96px"
    candidates = dict(reversed(entry.split()) for entry in img["srcset"].split(", "))
    assert set(candidates) == {"96w", "192w"} and original not in img["srcset"]
    original_bytes = await (await client.get(original)).read()
    for width, url in candidates.items():
        served = await client.get(url)
        assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
        body = await served.read()
        with Image.open(io.BytesIO(body)) as picture:
            assert picture.size == (int(width[:-1]),) * 2
        assert len(body) < len(original_bytes) / 3
    # A photo stored before sizes were made: its sized addresses serve the original, so it still shows.
    for sized in (settings.gateway_data_dir / "photos").glob("*-*.jpg"):
        sized.unlink()
    assert await (await client.get(candidates["192w"])).read() == original_bytes


async def test_the_contest_page_tiles_posters_and_photos_from_their_small_sizes(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", candidates=2)
    upload_id = await give_clip(sessions, contest, "01")
    html = await (await client.get("/c/gala", params={"lang": "en"})).text()
    tile = img_attributes(html, "poster")
    assert tile["srcset"] == f"{FILES_URL}/{upload_id}/poster-96.jpg 96w, {FILES_URL}/{upload_id}/poster-192.jpg 192w"
    assert tile["sizes"] == "96px" and tile["width"] == "96" and tile["src"].endswith("/poster-192.jpg")
