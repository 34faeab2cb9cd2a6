"""The broadcast overlay over HTTP: the top candidates with their shares, the QR code to the contest page, the
lines to vote by phone, a sealed board's words, the language asked for, and options checked."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
import segno
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import func, select

from assembly.settings import Settings
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OutboxMessage
from tests.factories import RULES_OFF, make_contest
from tests.leaderboard.conftest import open_stream
from tests.leaderboard.helpers import vote_and_publish


async def overlay(client: TestClient, path: str) -> str:
    response = await client.get(path, headers={"Accept-Language": "en"})
    assert response.status == 200 and response.content_type == "text/html", await response.text()
    return await response.text()


def rows(html: str) -> list[dict[str, str]]:
    """The overlay's rows as a viewer reads them: code, name, votes and share."""
    found = []
    for item in re.findall(r'<li class="row".*?</li>', html, re.S):
        spans = dict(re.findall(r'<span class="(rank|code|name|votes|share)">([^<]*)</span>', item))
        found.append(spans)
    return found


def how_to_vote(html: str) -> list[str]:
    section = html.split('<ul class="how">', 1)[1].split("</ul>", 1)[0]
    return [re.sub(r'<span class="slot">([^<]*)</span>', r"[\1]", item).strip()
            for item in re.findall(r"<li[^>]*>(.*?)</li>", section)]


async def voted_contest(sessions: Sessions, redis: Redis, **overrides: object) -> Contest:
    contest = await make_contest(sessions, slug="gala", name="Gala", fraud_rules=RULES_OFF, **overrides)
    for code, quantity in (("03", 5), ("01", 3), ("02", 1), ("04", 1)):
        await vote_and_publish(sessions, redis, contest, code, quantity)
    return contest


async def test_the_overlay_shows_the_top_candidates_the_qr_code_and_the_codes_to_vote(
        client: TestClient, sessions: Sessions, redis: Redis, settings: Settings) -> None:
    await voted_contest(sessions, redis)
    html = await overlay(client, "/c/gala/overlay?top=3&lang=en")
    assert rows(html) == [
        {"rank": "No. 1", "code": "03", "name": "Candidate 03", "votes": "5 votes", "share": "50.0%"},
        {"rank": "No. 2", "code": "01", "name": "Candidate 01", "votes": "3 votes", "share": "30.0%"},
        {"rank": "No. 3", "code": "02", "name": "Candidate 02", "votes": "1 vote", "share": "10.0%"},
    ]
    url = settings.public_base_url.rstrip("/") + "/c/gala"
    assert f'<span class="url fit">{url}</span>' in html
    qr = segno.make(url, error="m").svg_inline(scale=1, border=2, dark="#000", light="#fff",
                                                                omitsize=True, title="Scan to vote",
                                                                svgclass="qr-code")
    assert qr in html  # the code a phone scans is the contest page's address
    assert how_to_vote(html) == ["Dial *384*999*1*[code]#", "Text VOTE [code] to 20999"]
    assert 'class="overlay-page theme-dark"' in html  # the default theme
    assert 'data-stream="/api/v1/contests/gala/leaderboard/stream"' in html  # the board's own stream
    response = await client.get("/c/gala/overlay?lang=fr")
    assert "Set-Cookie" not in response.headers  # the browser source's language is the query's, every time


async def test_the_overlay_speaks_the_language_asked_for_else_the_contest_s(
        client: TestClient, sessions: Sessions, redis: Redis) -> None:
    await voted_contest(sessions, redis)  # a French contest (the default)
    french = await overlay(client, "/c/gala/overlay?lang=fr&theme=light")
    assert rows(french)[0] == {"rank": "N° 1", "code": "03", "name": "Candidate 03", "votes": "5 votes",
                               "share": "50,0\u202f%"}
    assert len(rows(french)) == 5  # top 5 by default; the fifth has no vote yet but is on the board
    assert "Scannez pour voter" in french and 'class="overlay-page theme-light"' in french
    assert how_to_vote(french) == ["Composez *384*999*1*[code]#", "Envoyez VOTE [code] par SMS au 20999"]
    assert '<html lang="fr"' in await overlay(client, "/c/gala/overlay")  # the browser's English is not asked


async def test_a_sealed_board_says_results_come_at_the_close_and_shows_no_count(
        client: TestClient, sessions: Sessions, redis: Redis) -> None:
    await voted_contest(sessions, redis, board_sealed=True)
    html = await overlay(client, "/c/gala/overlay?lang=en")
    assert '<p class="sealed" id="overlay-sealed">Voting open — results at the close</p>' in html
    assert rows(html) == [] and "Candidate 03" not in html and "%" not in html.split("<body>")[1].split("<script")[0]
    assert "*384*999*1*" in html and "qr-code" in html  # still how to vote
    french = await overlay(client, "/c/gala/overlay?lang=fr")
    assert "Votes ouverts — résultats à la clôture" in french

    now = datetime.now(UTC)
    await make_contest(sessions, slug="ended", board_sealed=True, opens_at=now - timedelta(days=2),
                       closes_at=now - timedelta(hours=1))  # voting over, the organiser has not closed it yet
    ended = await overlay(client, "/c/ended/overlay?lang=en")
    assert '<p class="sealed" id="overlay-sealed">Results at the close</p>' in ended


async def test_hidden_counts_show_the_ranking_only(client: TestClient, sessions: Sessions, redis: Redis) -> None:
    await voted_contest(sessions, redis, show_counts=False)
    html = await overlay(client, "/c/gala/overlay?top=2&lang=en")
    assert rows(html) == [{"rank": "No. 1", "code": "03", "name": "Candidate 03", "votes": "", "share": ""},
                          {"rank": "No. 2", "code": "01", "name": "Candidate 01", "votes": "", "share": ""}]
    assert 'data-votes="" data-tenths=""' in html


@pytest.mark.parametrize(("query", "field"), [
    ("top=0", "top"), ("top=13", "top"), ("top=abc", "top"), ("top=", "top"), ("top=-1", "top"),
    ("top=%EF%BC%95", "top"), ("theme=blue", "theme"), ("lang=de", "lang"),
])
async def test_a_bad_option_is_a_400_naming_it(client: TestClient, sessions: Sessions, query: str,
                                               field: str) -> None:
    await make_contest(sessions, slug="gala")
    response = await client.get(f"/c/gala/overlay?{query}")
    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "invalid_option" and body["error"]["field"] == field
    assert body["error"]["message"].startswith(f"{field}: ")


async def test_the_range_of_top_and_an_unknown_contest(client: TestClient, sessions: Sessions,
                                                      redis: Redis) -> None:
    await make_contest(sessions, slug="big", candidates=14)
    assert len(rows(await overlay(client, "/c/big/overlay?top=12&cachebust=7"))) == 12  # other options ignored
    assert len(rows(await overlay(client, "/c/big/overlay?top=1"))) == 1
    assert (await client.get("/c/nowhere/overlay")).status == 404


async def settled_version(client: TestClient, sessions: Sessions, slug: str) -> int:
    """The board's version once the service is done with the last vote: its own refresh of a vote (the outbox's)
    may land after the test's, under a newer version of the same board, and on a loaded machine more than half a
    second after it. So the app's relay is waited for first: until it has taken every outbox row (it publishes a
    row's refresh in the transaction that marks it), then the stream is quiet for half a second."""
    for _ in range(250):
        async with sessions() as session:
            if not await session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.enqueued_at.is_(None))):
                break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the app's relay never took the votes' outbox rows")
    _, reader = await open_stream(client, slug)
    try:
        event = await reader.next(timeout=3)
        assert event is not None
        while True:
            try:
                later = await reader.next(timeout=0.5)
            except TimeoutError:
                return event.version
            assert later is not None
            event = later
    finally:
        await reader.close()


async def test_the_overlay_s_stream_resumes_from_the_version_it_shows(
        client: TestClient, sessions: Sessions, redis: Redis) -> None:
    """What overlay.js reconnects with (Last-Event-ID, or the query's id when it opens a new stream itself):
    nothing it already shows is sent again, the next change is."""
    contest = await voted_contest(sessions, redis)
    stream = re.search(r'data-stream="/api/v1/contests/(\w+)/leaderboard/stream"', await overlay(
        client, "/c/gala/overlay"))
    assert stream is not None and stream.group(1) == contest.slug
    await vote_and_publish(sessions, redis, contest, "02", 1)
    current = await settled_version(client, sessions, contest.slug)
    _, by_header = await open_stream(client, contest.slug, {"Last-Event-ID": str(current)})
    _, by_query = await open_stream(client, contest.slug, query=f"?last_event_id={current}")
    try:
        assert await by_header.nothing_within(0.3) and await by_query.nothing_within(0)
        newer = await vote_and_publish(sessions, redis, contest, "04", 2)
        for reader in (by_header, by_query):
            await reader.until(lambda event: event.version == newer, timeout=3)
            # The service's own refresh of the same vote may come first: newer than what is shown, so fine.
            assert all(current < event.version <= newer for _, event in reader.arrivals)
    finally:
        await asyncio.gather(by_header.close(), by_query.close(), return_exceptions=True)
