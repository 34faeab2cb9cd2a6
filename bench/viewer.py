"""What a viewer on a phone downloads, on the whole stack as `gateway run` starts it: the contest page of a video
contest with 20 candidates (each with a clip made by the real pipeline: uploaded to the media server in chunks,
prepared by a media worker), before and after scrolling through every poster; a candidate page before playing;
and its 360p clip (a minute of 720p from a phone) — the first seconds of play, and the whole rendition. Then, if
Node is on the machine, Lighthouse's mobile scores (`npx lighthouse`, Debian's Chromium) and the bytes it counted of
every public page a voter meets: the contest page, a candidate page with a clip and a photo, the entry page,
/verify, a closed contest's results; `--reports DIR` keeps each page's Lighthouse report there.

    python -m bench.viewer [--candidates 20] [--seconds 60] [--no-lighthouse] [--reports DIR]

Bytes are what crossed the network (Chromium's encodedDataLength: compressed, headers included).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.async_api import Page, async_playwright
from sqlalchemy import select

from bench.harness import Stack, print_report, record, running_stack
from bench.transcode import phone_clip
from gateway.core.audit import Actor
from gateway.core.entries.candidate_media import set_candidate_media
from gateway.core.media import uploads
from gateway.db.engine import create_engine, session_factory
from gateway.db.models import Candidate, Contest, ContestStatus, EntryCall, MediaUpload, UploadKind, UploadState
from gateway.db.seed import ensure_tallies
from gateway.kit.secret_rules import DEV_SECRET_KEY
from media.local_storage import LocalStorage
from tests.chromium import CHROMIUM, CHROMIUM_ARGS

OWNER = Actor(None, "bench@example.org", "owner")
PHONE = {"width": 412, "height": 915}


async def upload(stack: Stack, storage: LocalStorage, sessions: Any, contest_id: int, clip: bytes,
                 kind: UploadKind = UploadKind.CLIP) -> uuid.UUID:
    """As a browser does: a grant, then the file (a clip, or a photo) in the grant's chunks to the media server."""
    grant = await uploads.grant(sessions, storage, contest_id, kind, None, datetime.now(UTC))
    headers = {"Authorization": grant.fields["authorization"], "Tus-Resumable": "1.0.0"}
    async with httpx.AsyncClient(timeout=60) as http:
        await http.post(grant.url, headers={**headers, "Upload-Length": str(len(clip))})
        for start in range(0, len(clip), grant.chunk_bytes):
            await http.patch(grant.url, content=clip[start:start + grant.chunk_bytes], headers={
                **headers, "Upload-Offset": str(start), "Content-Type": "application/offset+octet-stream"})
    return uuid.UUID(grant.upload_id)


async def ready(sessions: Any, upload_ids: list[uuid.UUID], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            async with sessions() as session:
                rows = (await session.execute(select(MediaUpload.state, MediaUpload.refusal)
                                              .where(MediaUpload.id.in_(upload_ids)))).all()
            states = [row.state for row in rows]
            if UploadState.REFUSED in states:
                raise SystemExit(f"an upload was refused: {[row.refusal for row in rows if row.refusal]}")
            if states.count(UploadState.READY) == len(upload_ids):
                return
            await asyncio.sleep(1)


async def video_contest(stack: Stack, candidates: int, seconds: int, scratch: Path) -> tuple[str, str]:
    """A contest of `candidates` with clips: the first a phone's minute, the others a few seconds (their posters
    are what the contest page shows; their length changes nothing there)."""
    engine = create_engine(stack.database_url.replace("postgresql://", "postgresql+asyncpg://"), pool_size=2)
    sessions = session_factory(engine)
    storage = LocalStorage(stack.data_dir / "media", stack.media_url, stack.media_url, DEV_SECRET_KEY)
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        contest = Contest(slug="video-bench", name="Video Bench 2026", status=ContestStatus.OPEN,
                          opens_at=now, closes_at=now.replace(year=now.year + 1), price_per_vote=100, currency="XAF",
                          max_votes_per_order=100, providers=["mtn", "orange"])
        session.add(contest)
        await session.flush()
        session.add_all(Candidate(contest_id=contest.id, code=f"{i:02d}", name=f"Candidate {i:02d}", position=i)
                        for i in range(1, candidates + 1))
        await session.flush()
        await ensure_tallies(session, contest.id)
        ids = list(await session.scalars(select(Candidate.id).where(Candidate.contest_id == contest.id)
                                          .order_by(Candidate.code)))
    long_clip = phone_clip(scratch / "long.mp4", seconds, "1280x720").read_bytes()
    short_clip = phone_clip(scratch / "short.mp4", 3, "1280x720").read_bytes()
    made = [await upload(stack, storage, sessions, contest.id, long_clip if i == 0 else short_clip)
            for i in range(candidates)]
    await ready(sessions, made, timeout=120 + seconds * 3 + candidates * 10)
    for candidate_id, upload_id in zip(ids, made, strict=True):
        await set_candidate_media(sessions, storage, OWNER, candidate_id, UploadKind.CLIP, upload_id, datetime.now(UTC))
    await with_photo_and_call(stack, storage, sessions, contest.id, ids[0])
    await results_contest(stack, storage, sessions, candidates)
    await engine.dispose()
    return f"{stack.base_url}/c/video-bench?lang=en", f"{stack.base_url}/c/video-bench/01?lang=en"


def photo_of(seed: int) -> bytes:
    """A camera's photo (800 x 600 here, some 55 KB once the media worker has re-encoded it)."""
    picture = Image.effect_mandelbrot((800, 600), (-2.0 + seed / 50, -1.2, 1.0, 1.2), 100).convert("RGB")
    noise = Image.effect_noise((800, 600), 24).convert("RGB")
    out = io.BytesIO()
    Image.blend(picture, noise, 0.06).save(out, "JPEG", quality=92)
    return out.getvalue()


async def give_photos(stack: Stack, storage: LocalStorage, sessions: Any, contest_id: int,
                      candidate_ids: list[int]) -> None:
    """Each candidate's photo as an organiser gives it: to the media server, prepared by the media worker, set."""
    made = [await upload(stack, storage, sessions, contest_id, photo_of(i), UploadKind.PHOTO)
            for i in range(len(candidate_ids))]
    await ready(sessions, made, timeout=60 + len(made) * 5)
    for candidate_id, upload_id in zip(candidate_ids, made, strict=True):
        await set_candidate_media(sessions, storage, OWNER, candidate_id, UploadKind.PHOTO, upload_id,
                                  datetime.now(UTC))


async def with_photo_and_call(stack: Stack, storage: LocalStorage, sessions: Any, contest_id: int,
                              candidate_id: int) -> None:
    """The first candidate's photo (beside their clip on their page), and the contest's call for entries."""
    await give_photos(stack, storage, sessions, contest_id, [candidate_id])
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(EntryCall(contest_id=contest_id, opens_at=now, closes_at=now + timedelta(days=7),
                              rules="One clip, your own work.", max_entries=None))


async def results_contest(stack: Stack, storage: LocalStorage, sessions: Any, candidates: int) -> None:
    """A closed contest of `candidates` with photos: its page is its results."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        contest = Contest(slug="results-bench", name="Results Bench 2026", status=ContestStatus.CLOSED,
                          opens_at=now - timedelta(days=9), closes_at=now - timedelta(days=1), price_per_vote=100,
                          currency="XAF", max_votes_per_order=100, providers=["mtn", "orange"])
        session.add(contest)
        await session.flush()
        made = [Candidate(contest_id=contest.id, code=f"{i:02d}", name=f"Candidate {i:02d}", position=i)
                for i in range(1, candidates + 1)]
        session.add_all(made)
        await session.flush()
        await ensure_tallies(session, contest.id)
        contest_id, ids = contest.id, [candidate.id for candidate in made]
    await give_photos(stack, storage, sessions, contest_id, ids)


class Counter:
    """Bytes the page's requests brought, from Chromium's own network events: a request's whole length once it
    finished, what arrived so far of one still streaming (a clip being played)."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.arrived: dict[str, int] = {}
        self.finished: dict[str, int] = {}

    async def attach(self, page: Page) -> None:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Network.enable")
        cdp.on("Network.responseReceived", lambda e: self.types.__setitem__(e["requestId"], e["type"]))
        cdp.on("Network.dataReceived", self.data)
        cdp.on("Network.loadingFinished", lambda e: self.finished.__setitem__(e["requestId"],
                                                                              int(e.get("encodedDataLength", 0))))

    def data(self, event: dict[str, Any]) -> None:
        request = event["requestId"]
        self.arrived[request] = self.arrived.get(request, 0) + int(event.get("encodedDataLength", 0))

    def of(self, request: str) -> int:
        return max(self.finished.get(request, 0), self.arrived.get(request, 0))

    @property
    def total(self) -> int:
        return sum(self.of(request) for request in {*self.arrived, *self.finished})

    @property
    def by_type(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for request in {*self.arrived, *self.finished}:
            kind = self.types.get(request, "Other")
            kinds[kind] = kinds.get(kind, 0) + self.of(request)
        return kinds


def kib(n: int) -> str:
    return f"{n / 1024:.0f} KiB"


async def measure(contest_url: str, candidate_url: str, clip_bytes: int) -> dict[str, str]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"])
        page = await browser.new_page(viewport=PHONE)
        counter = Counter()
        await counter.attach(page)
        await page.goto(contest_url, wait_until="networkidle")
        first_screen = dict(counter.by_type), counter.total
        for _ in range(40):
            await page.mouse.wheel(0, 600)
            await page.wait_for_timeout(100)
        await page.wait_for_load_state("networkidle")
        scrolled = counter.total
        page = await browser.new_page(viewport=PHONE)
        counter = Counter()
        await counter.attach(page)
        await page.goto(candidate_url, wait_until="networkidle")
        before_play = counter.total
        played = await page.locator("video").evaluate(
            "v => v.play().then(() => new Promise(r => setTimeout(r, 5000))).then(() => v.currentTime)")
        after_five = counter.total
        await browser.close()
    parts = ", ".join(f"{kind} {kib(size)}" for kind, size in sorted(first_screen[0].items()))
    return {
        "contest page as loaded (lazy posters: Chromium fetches those within 1250-2500 px of the screen)":
            f"{kib(first_screen[1])} ({parts})",
        "contest page, scrolled past every poster": kib(scrolled),
        "candidate page before play (preload=none)": kib(before_play),
        f"candidate page after {played:.1f} s of play (Chromium buffers ahead as fast as the link allows)":
            kib(after_five),
        "the whole 360p rendition of a minute (watched to the end)": kib(clip_bytes),
    }


def lighthouse(url: str, keep: Path | None = None) -> str:
    """Lighthouse's mobile scores (performance, accessibility, best practices, SEO) and the bytes it counted (its
    simulated phone on a slow 4G link: what the page downloads before it is idle), or why there are none; the
    report is kept as `keep` if given."""
    if shutil.which("npx") is None:
        return "not run: no Node on this machine (npx)"
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        done = subprocess.run(["npx", "--yes", "lighthouse@13", url, "--quiet", "--output=json",
                               f"--output-path={report}", "--form-factor=mobile", f"--chrome-path={CHROMIUM}",
                               "--chrome-flags=" + " ".join(CHROMIUM_ARGS)],
                              capture_output=True, text=True, timeout=600)
        if not report.exists():
            return f"not run: lighthouse exited {done.returncode}: {done.stderr.strip()[-300:]}"
        found = json.loads(report.read_text())
        if keep is not None:
            shutil.copyfile(report, keep)
    scores = ", ".join(f"{c['title']} {round(c['score'] * 100)}" for c in found["categories"].values())
    weight = found["audits"]["total-byte-weight"].get("numericValue")
    return f"{scores}; {kib(int(weight))} downloaded" if weight is not None else scores


def public_pages(base_url: str) -> dict[str, str]:
    """Every public page a voter meets, by what it is."""
    return {"contest page": f"{base_url}/c/video-bench?lang=en",
            "candidate page with a clip and a photo": f"{base_url}/c/video-bench/01?lang=en",
            "entry page": f"{base_url}/c/video-bench/enter?lang=en", "/verify": f"{base_url}/verify?lang=en",
            "results page (a closed contest's)": f"{base_url}/c/results-bench?lang=en"}


async def run(candidates: int, seconds: int, with_lighthouse: bool, reports: Path | None = None) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as scratch, running_stack(web_processes=1, worker_processes=1) as stack:
        contest_url, candidate_url = await video_contest(stack, candidates, seconds, Path(scratch))
        async with httpx.AsyncClient() as http:
            page = (await http.get(candidate_url)).text
            source = page.split('<source src="', 1)[1].split('"', 1)[0]
            clip_bytes = len((await http.get(source)).content)
        figures = await measure(contest_url, candidate_url, clip_bytes)
        if with_lighthouse:
            for index, (what, url) in enumerate(public_pages(stack.base_url).items()):
                keep = reports / f"{index}.json" if reports is not None else None
                figures[f"Lighthouse, mobile, {what}"] = await asyncio.to_thread(lighthouse, url, keep)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.viewer", description=__doc__)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--no-lighthouse", action="store_true")
    parser.add_argument("--reports", type=Path, help="a folder to keep each page's Lighthouse report in")
    args = parser.parse_args()
    if args.reports is not None:
        args.reports.mkdir(parents=True, exist_ok=True)
    figures = asyncio.run(run(args.candidates, args.seconds, not args.no_lighthouse, args.reports))
    record("viewer-pages", print_report("viewer: what a phone downloads of a video contest's public pages", figures))


if __name__ == "__main__":
    main()
