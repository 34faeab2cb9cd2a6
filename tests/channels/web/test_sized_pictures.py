"""Pictures in the sizes pages show them: a phone fetches a candidate's photo as a small square beside their clip,
and the contest page's tiles as small copies of the posters, never the 800 px photo; a photo the site kept itself
(an organiser's, sent before photos went through the media storage) the same, and one stored before sizes still
shows. (An organiser's photo today: tests/media/test_organiser_photos.py.)"""

from __future__ import annotations

import io
import re
import uuid
from html import unescape

from aiohttp.test_utils import TestClient
from PIL import Image
from sqlalchemy import update

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import Candidate
from media.photos import reencode, sized
from tests.channels.web.candidate_clips import FILES_URL, candidate_id, give_clip
from tests.factories import make_contest


def photo_jpeg(width: int = 800, height: int = 600) -> io.BytesIO:
    out = io.BytesIO()
    # Noise, not a flat colour: a photo's bytes, so the sizes' savings are a photo's too.
    Image.effect_noise((width, height), 60).convert("RGB").save(out, format="JPEG", quality=90)
    out.seek(0)
    return out


async def organisers_older_photo(sessions: Sessions, settings: Settings, candidate: int) -> str:
    """A photo an organiser sent before photos went through the media storage, as the site kept it: re-encoded, in
    the data folder with its small copies beside it, served by the site itself; its URL."""
    jpeg = reencode(photo_jpeg().getvalue())
    name = uuid.uuid4().hex + ".jpg"
    folder = settings.gateway_data_dir / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for size, copy in sized(jpeg).items():
        (folder / size.name_of(name)).write_bytes(copy)
    (folder / name).write_bytes(jpeg)
    async with sessions.begin() as session:
        await session.execute(update(Candidate).where(Candidate.id == candidate).values(photo_url=f"/photos/{name}"))
    return f"/photos/{name}"


def img_attributes(html: str, css_class: str) -> dict[str, str]:
    tag = re.search(rf'<img class="{css_class}"[^>]*>', html)
    assert tag, html
    return {name: unescape(value) for name, value in re.findall(r'([a-z]+)="([^"]*)"', tag.group(0))}


async def test_the_photo_beside_a_clip_comes_in_small_sizes_that_are_served(
        client: TestClient, sessions: Sessions, settings: Settings) -> None:
    contest = await make_contest(sessions, slug="gala", candidates=2)
    await give_clip(sessions, contest, "01")
    original = await organisers_older_photo(sessions, settings, await candidate_id(sessions, contest, "01"))
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
    for copy in (settings.gateway_data_dir / "photos").glob("*-*.jpg"):
        copy.unlink()
    assert await (await client.get(candidates["192w"])).read() == original_bytes


async def test_the_contest_page_tiles_posters_and_photos_from_their_small_sizes(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", candidates=2)
    upload_id = await give_clip(sessions, contest, "01")
    html = await (await client.get("/c/gala", params={"lang": "en"})).text()
    tile = img_attributes(html, "poster")
    assert tile["srcset"] == f"{FILES_URL}/{upload_id}/poster-96.jpg 96w, {FILES_URL}/{upload_id}/poster-192.jpg 192w"
    assert tile["sizes"] == "96px" and tile["width"] == "96" and tile["src"].endswith("/poster-192.jpg")
