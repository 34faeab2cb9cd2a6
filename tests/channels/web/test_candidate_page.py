"""A candidate's page over HTTP, as a voter's phone gets it without JavaScript: their clip with its poster, the
vote form for them, their share card and short link; hidden candidates nowhere; posters on the contest page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from aiohttp.test_utils import TestClient

from channels.web.share import base62
from gateway.db.engine import Sessions
from gateway.db.models import CandidateStatus, UploadState
from tests.channels.web.candidate_clips import FILES_URL, candidate_id, give_clip
from tests.factories import make_contest
from tests.servers import CLOSED

BASE = CLOSED.url("http://127.0.0.1")  # the suite's PUBLIC_BASE_URL (tests/conftest.py)


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def meta(self) -> dict[str, str | None]:
        """The page's <meta property|name=… content=…> by property or name."""
        return {str(attrs.get("property") or attrs.get("name")): attrs.get("content") for attrs in self.named("meta")
                if attrs.get("content") is not None}


def tags_of(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


async def page(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path, headers={"Accept-Language": "en"})
    html = await response.text()
    assert response.status == status, html
    return html


async def test_the_page_plays_the_360p_clip_on_request_with_its_poster(client: TestClient,
                                                                       sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", name="Gala 2026")
    clip = await give_clip(sessions, contest, "02")
    html = await page(client, "/c/gala/02")
    tags = tags_of(html)
    [video] = tags.named("video")
    assert "controls" in video and "playsinline" in video and video["preload"] == "none"
    assert video["poster"] == f"{FILES_URL}/{clip}/poster.jpg"
    assert (video["width"], video["height"]) == ("360", "640")  # its room is kept before it loads: no shift
    assert tags.named("source") == [{"src": f"{FILES_URL}/{clip}/360p.mp4", "type": "video/mp4"}]
    assert len(tags.named("h1")) == 1 and '<h1><span class="nw">Candidate</span> <span class="nw">02</span>' in html
    assert 'href="/c/gala/02?q=720">Watch in HD (720p)</a>' in html

    hd = tags_of(await page(client, "/c/gala/02?q=720"))
    assert hd.named("source")[0]["src"] == f"{FILES_URL}/{clip}/720p.mp4"


async def test_the_vote_form_is_the_candidate_s_preselected(client: TestClient, sessions: Sessions) -> None:
    await make_contest(sessions, slug="gala")
    html = await page(client, "/c/gala/03")
    tags = tags_of(html)
    [form] = [f for f in tags.named("form") if f.get("id") == "vote-form"]
    assert form["action"] == "/c/gala/vote" and form["method"] == "post"
    candidates = [i for i in tags.named("input") if i.get("name") == "candidate"]
    assert [(i["value"], "checked" in i) for i in candidates] == [("03", True)]
    assert all(f'for="{i["id"]}"' in html for i in tags.named("input") if i.get("type") not in ("hidden", "url"))


async def test_the_share_card_has_the_poster_the_clip_and_the_page_as_absolute_addresses(
        client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", name="Gala 2026")
    clip = await give_clip(sessions, contest, "02")
    meta = tags_of(await page(client, "/c/gala/02")).meta()
    assert meta["og:title"] == "Candidate 02 · Gala 2026"
    assert meta["og:image"] == meta["twitter:image"] == f"{FILES_URL}/{clip}/poster.jpg"
    assert meta["og:url"] == f"{BASE}/c/gala/02"
    assert meta["og:type"] == "video.other" and meta["og:video"] == f"{FILES_URL}/{clip}/360p.mp4"
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["og:description"] == "Dial *384*999*1*02# · Text VOTE 02 to 20999"
    assert meta["description"] == "Vote for Candidate 02 in Gala 2026. Dial *384*999*1*02# · Text VOTE 02 to 20999"


async def test_the_short_link_leads_to_the_page_for_good(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", name="Gala 2026")
    html = await page(client, "/c/gala/04")
    short = tags_of(html).named("input")
    [link] = [i["value"] for i in short if i.get("id") == "short-link"]
    assert link is not None and re.fullmatch(rf"{BASE}/s/[0-9A-Za-z]{{1,6}}", link)
    path = link.removeprefix(BASE)
    assert path == f"/s/{base62(await candidate_id(sessions, contest, '04'))}"  # stable: the candidate's id
    assert 'href="https://wa.me/?text=Vote%20for%20Candidate%2004%20in%20Gala%202026%3A%20' in html
    assert "https://www.facebook.com/sharer/sharer.php?u=" in html

    response = await client.get(path, allow_redirects=False)
    assert response.status == 301 and response.headers["Location"] == "/c/gala/04"
    assert (await client.get(path)).url.path == "/c/gala/04"
    assert (await client.get("/s/zzzzzz", allow_redirects=False)).status == 404
    assert (await client.get("/s/0", allow_redirects=False)).status == 404


async def test_a_hidden_candidate_shows_nowhere_public(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", candidate_status={"03": CandidateStatus.HIDDEN})
    clip = await give_clip(sessions, contest, "03")
    html = await page(client, "/c/gala/03", status=404)
    assert "This candidate is not in this contest" in html and str(clip) not in html
    contest_html = await page(client, "/c/gala")
    assert "/c/gala/03" not in contest_html and str(clip) not in contest_html
    # The short link a voter kept from before they were hidden.
    hidden = await client.get(f"/s/{base62(await candidate_id(sessions, contest, '03'))}", allow_redirects=False)
    assert hidden.status == 404
    body = await (await client.get("/api/v1/contests/gala")).json()
    assert "03" not in [c["code"] for c in body["candidates"]] and str(clip) not in str(body)


async def test_a_candidate_without_a_ready_clip_shows_no_player(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala")
    await give_clip(sessions, contest, "02", state=UploadState.RECEIVED)  # still being transcoded
    for path in ("/c/gala/01", "/c/gala/02"):
        tags = tags_of(await page(client, path))
        assert tags.named("video") == [] and tags.named("source") == []
        meta = tags.meta()
        assert meta["og:type"] == "website" and "og:video" not in meta and meta["twitter:card"] == "summary"


async def test_the_contest_page_lists_candidates_with_small_lazy_posters(client: TestClient,
                                                                         sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", name="Gala 2026")
    clip = await give_clip(sessions, contest, "02")
    html = await page(client, "/c/gala")
    tags = tags_of(html)
    # The list's small picture is the poster's tile (a few KB), as in the vote form and on the board; the share
    # card keeps the whole poster.
    tiles = [img for img in tags.named("img") if img.get("src") == f"{FILES_URL}/{clip}/poster-192.jpg"]
    assert sorted(img["class"] or "" for img in tiles) == ["av", "av", "poster"]
    [poster] = [img for img in tiles if img["class"] == "poster"]
    assert poster["loading"] == "lazy" and poster["width"] == poster["height"] == "96" and poster["alt"] == ""
    links = [a["href"] for a in tags.named("a")]
    assert all(f"/c/gala/{code}" in links for code in ("01", "02", "03", "04", "05"))
    meta = tags.meta()
    assert meta["og:title"] == "Gala 2026" and meta["og:url"] == f"{BASE}/c/gala"
    assert meta["og:image"] == f"{FILES_URL}/{clip}/poster.jpg"


async def test_the_page_speaks_french(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala", name="Gala")
    await give_clip(sessions, contest, "02")
    html = await page(client, "/c/gala/02?lang=fr")
    assert '<html lang="fr"' in html
    for text in ("Comment voter", "Composez *384*999*1*02#", "Envoyez VOTE 02 par SMS au 20999",
                 "Regarder en HD (720p)", "Partager sur WhatsApp", "Tous les candidats de Gala"):
        assert text in html, text


async def test_the_api_gives_each_candidate_s_clip(client: TestClient, sessions: Sessions) -> None:
    contest = await make_contest(sessions, slug="gala")
    clip = await give_clip(sessions, contest, "02", hd=False)
    body = await (await client.get("/api/v1/contests/gala")).json()
    clips = {c["code"]: c["clip"] for c in body["candidates"]}
    assert clips["01"] is None
    assert clips["02"] == {"poster_url": f"{FILES_URL}/{clip}/poster.jpg",
                           "mp4_360p_url": f"{FILES_URL}/{clip}/360p.mp4", "mp4_720p_url": None,
                           "duration_seconds": 42.5, "width": 720, "height": 1280}
    schema = (await (await client.get("/api/v1/openapi.json")).json())["components"]["schemas"]
    assert "clip" in schema["CandidateOut"]["properties"] and "mp4_360p_url" in schema["ClipOut"]["properties"]
