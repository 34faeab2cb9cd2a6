"""The demo as a newcomer first meets it: each demo candidate has a clip that plays (made from ffmpeg's test
sources, then prepared by the media worker as an entry's clip is), its poster and a photo, served by the media
server and shown on the contest's pages; seeding again makes nothing new (checked on the way: a seed's clips are
seconds of ffmpeg, paid once)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.async_api import Browser, expect
from redis.asyncio import Redis
from rq.job import Job
from sqlalchemy import delete, func, select

from assembly.machine.demo import seed_demo
from assembly.resources.media import local_storage
from assembly.worker.job_runtime import JobContext
from gateway.core.media.uploads import UPLOAD_RECEIVED_TOPIC
from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, MediaUpload, OutboxMessage, UploadState
from gateway.db.seed import DEMO_CANDIDATES
from gateway.jobs.queues import MEDIA_QUEUE, job_queue, sync_redis
from media.demo_clips import look_of, make_clip
from media.ffmpeg import PROBE, TRANSCODE, run_ffmpeg
from media.local_storage import LocalStorage
from media.passes import media_handlers
from media.processing import probe_clip
from media.upload_jobs import PROCESS_PASS, process_upload_pass
from tests.leaderboard.helpers import vote_and_publish
from tests.media.conftest import Entering
from tests.readme_pictures import keep_for_readme


async def fetched(entering: Entering, url: str) -> tuple[int, str, bytes]:
    """A file as a viewer's browser fetches it from the media server: status, type, bytes."""
    answer = await entering.media.get(urlsplit(url).path)
    return answer.status, answer.content_type, await answer.read()


# The media queue taken by two workers (MEDIA_WORKERS=2): each ffmpeg runs on one thread in the idle class, so one
# worker left the second core's spare time unused while the 16 preparations waited their turn.
MEDIA_WORKERS = 2


async def media_worker_runs(job: JobContext, sessions: Sessions) -> int:
    """What follows a seed in `gateway run`: the outbox's `upload.received` notes delivered (each queues its
    upload's processing on the media queue), then the media workers' jobs run; how many ran."""
    async with sessions.begin() as session:  # each note delivered once, as the relay does
        notes = list(await session.scalars(delete(OutboxMessage).where(OutboxMessage.topic == UPLOAD_RECEIVED_TOPIC)
                                           .returning(OutboxMessage.payload)))
    for payload in notes:
        await media_handlers(job)[UPLOAD_RECEIVED_TOPIC](payload)
    queue = job_queue(sync_redis(job.settings.redis_url or ""), MEDIA_QUEUE)
    queued = queue.get_jobs()
    at_once = asyncio.Semaphore(MEDIA_WORKERS)

    async def run(queued_job: Job) -> str:
        name, upload_id = queued_job.args
        assert name == PROCESS_PASS
        async with at_once:
            outcome = await process_upload_pass(job, upload_id)
        queued_job.delete()
        return outcome

    assert await asyncio.gather(*(run(queued_job) for queued_job in queued)) == ["ready"] * len(queued)
    return len(queued)


# The test's own look at what a viewer is served: the service's probes yield the CPU to everything else (the idle
# class), so on a machine whose cores are all busy they wait their turn for minutes; this one need not.
VIEWERS_LOOK = replace(PROBE, lowly=False)


def made_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


# Sixteen preparations in the idle class, as the media workers run them: on a machine whose cores are all busy they
# get what the rest leaves, minutes where a quiet machine takes seconds (178 s beside two CPU-bound processes).
@pytest.mark.timeout(600)
async def test_each_demo_candidate_has_a_clip_a_poster_and_a_photo_on_the_pages(
        entering: Entering, media_job: JobContext, sessions: Sessions, redis: Redis, browser: Browser,
        tmp_path: Path) -> None:
    storage = local_storage(entering.settings)
    contest = await seed_demo(sessions, storage)
    await seeding_again_makes_nothing_new(sessions, storage)
    assert await media_worker_runs(media_job, sessions) == 2 * len(DEMO_CANDIDATES)  # a clip and a photo each
    async with sessions() as session:
        candidates = list(await session.scalars(select(Candidate).where(Candidate.contest_id == contest.id)
                                                .order_by(Candidate.code)))
        clips = {u.id: u for u in await session.scalars(select(MediaUpload).where(
            MediaUpload.id.in_([c.clip_id for c in candidates])))}
    assert [(c.code, c.name) for c in candidates] == list(DEMO_CANDIDATES)
    contest_page = await (await entering.web.get("/c/demo?lang=en")).text()
    for candidate in candidates:
        assert candidate.clip_id is not None and candidate.photo_url is not None, candidate.name
        clip = clips[candidate.clip_id]
        assert clip.state is UploadState.READY and clip.msisdn is None
        urls = {name: storage.public_url(made["key"]) for name, made in (clip.files or {}).items()}
        status, kind, video = await fetched(entering, urls["360p"])
        assert (status, kind) == (200, "video/mp4")
        (tmp_path / "clip.mp4").write_bytes(video)
        played = probe_clip(tmp_path / "clip.mp4", VIEWERS_LOOK)
        assert played is not None and played.video == ("h264", 640, 360) and played.audio_streams == 1
        assert 2.5 <= (played.seconds or 0) <= 4
        for picture in (urls["poster"], urls["poster-192"], urls["thumb"], candidate.photo_url):
            status, kind, jpeg = await fetched(entering, picture)
            assert (status, kind, jpeg[:3]) == (200, "image/jpeg", b"\xff\xd8\xff")
        assert f'src="{urls["poster-192"]}"' in contest_page  # the list's picture is the clip's, sized for it
        candidate_page = await (await entering.web.get(f"/c/demo/{candidate.code}?lang=en")).text()
        assert f'poster="{urls["poster"]}"' in candidate_page and f'src="{urls["360p"]}"' in candidate_page
    # Each candidate its own colour: no two posters alike.
    assert len({clip.files["poster"]["key"] for clip in clips.values() if clip.files}) == len(candidates)
    assert len({(await fetched(entering, storage.public_url(clip.files["thumb"]["key"])))[2]
                for clip in clips.values() if clip.files}) == len(candidates)
    await phone_pictures(browser, str(entering.web.make_url("")).rstrip("/"), sessions, redis, contest)


# The pictures the screenshot shows (the phone's screen): one further down is loaded lazily, when scrolled to, and
# waiting for every one on the page waited out the whole deadline for those never loaded.
EVERY_PICTURE_SHOWN_IS_IN = ("() => [...document.images]"
                             ".filter(image => image.getBoundingClientRect().top < innerHeight)"
                             ".every(image => image.complete)")


async def phone_pictures(browser: Browser, site: str, sessions: Sessions, redis: Redis, contest: Contest) -> None:
    """The contest page with a few votes in, and a candidate's page, on a phone: every picture drawn."""
    for code, votes in (("03", 7), ("01", 5), ("05", 2)):
        await vote_and_publish(sessions, redis, contest, code, votes)
    page = await browser.new_page(locale="en-US", viewport={"width": 412, "height": 915})
    page.set_default_timeout(15_000)
    for path, name in (("/c/demo?lang=en", "contest-page"), ("/c/demo/03?lang=en", "candidate-page")):
        await page.goto(f"{site}{path}")
        await expect(page.locator("img:visible, video:visible").first).to_be_visible()
        for _ in range(100):  # every picture in (a page function: the pages' policy forbids a string's eval)
            if await page.evaluate(EVERY_PICTURE_SHOWN_IS_IN):
                break
            await page.wait_for_timeout(100)
        await page.wait_for_timeout(900)  # the board's bars have grown
        keep_for_readme(await page.screenshot(), name)
    await page.close()


async def seeding_again_makes_nothing_new(sessions: Sessions, storage: LocalStorage) -> None:
    """A second seed (every `gateway run` seeds) before the media worker has run: no new upload, note or file."""

    async def made() -> tuple[object, ...]:
        async with sessions() as session:
            return (await session.scalar(select(func.count()).select_from(MediaUpload)),
                    await session.scalar(select(func.count()).select_from(OutboxMessage)
                                         .where(OutboxMessage.topic == UPLOAD_RECEIVED_TOPIC)),
                    list(await session.execute(select(Candidate.code, Candidate.clip_id, Candidate.photo_id)
                                               .order_by(Candidate.code))),
                    made_files(storage.root))

    first = await made()
    assert first[:2] == (2 * len(DEMO_CANDIDATES), 2 * len(DEMO_CANDIDATES))  # a clip and a photo each, queued
    await seed_demo(sessions, storage)
    assert await made() == first


def where_the_name_goes(clip: Path) -> tuple[int, ...]:
    frame = clip.with_suffix(".png")
    run_ffmpeg(["-loglevel", "error", "-ss", "1", "-i", str(clip), "-frames:v", "1", "-y", str(frame)], TRANSCODE)
    with Image.open(frame) as picture:
        return tuple(picture.convert("RGB").getpixel((picture.width // 2, picture.height // 2 - 30)))  # the name's


def test_a_machine_without_fonts_still_gets_its_demo_clips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ffmpeg's drawtext finds no font through a fontconfig that knows none (a slim container): the clip is made
    in the candidate's colour and tone, without the name, where it would otherwise have the name's box."""
    look = look_of(0)
    named = where_the_name_goes(make_clip(tmp_path / "named.mp4", "Amina Bello", look))
    (tmp_path / "fonts.conf").write_text('<?xml version="1.0"?><fontconfig></fontconfig>\n')
    monkeypatch.setenv("FONTCONFIG_FILE", str(tmp_path / "fonts.conf"))
    plain = make_clip(tmp_path / "plain.mp4", "Amina Bello", look)
    facts = probe_clip(plain)
    assert facts is not None and facts.video == ("h264", 640, 360) and facts.audio_streams == 1
    colour = tuple(int(look.colour[i:i + 2], 16) for i in (1, 3, 5))
    assert all(abs(a - b) <= 12 for a, b in zip(where_the_name_goes(plain), colour, strict=True))
    assert any(abs(a - b) > 40 for a, b in zip(named, colour, strict=True))  # the name's dark box, with fonts
