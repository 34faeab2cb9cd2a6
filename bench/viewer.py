"""What a viewer on a phone downloads, on the whole stack as `gateway run` starts it: the contest page of a video
contest with 20 candidates (each with a clip made by the real pipeline: uploaded to the media server in chunks,
prepared by a media worker), before and after scrolling through every poster; a candidate page before playing;
and its 360p clip (a minute of 720p from a phone) — the first seconds of play, and the whole rendition. Then, if
Node is on the machine, Lighthouse's mobile scores of that candidate page (`npx lighthouse`, Debian's Chromium).

    python -m bench.viewer [--candidates 20] [--seconds 60] [--no-lighthouse]

Bytes are what crossed the network (Chromium's encodedDataLength: compressed, headers included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright
from sqlalchemy import select

from bench.harness import Stack, print_report, record, running_stack
from bench.transcode import phone_clip
from gateway.core.audit import Actor
from gateway.core.entries.entries_review import set_candidate_clip
from gateway.core.media import uploads
from gateway.db.engine import create_engine, session_factory
from gateway.db.models import Candidate, Contest, ContestStatus, MediaUpload, UploadKind, UploadState
from gateway.db.seed import ensure_tallies
from gateway.kit.secret_rules import DEV_SECRET_KEY
from media.local_storage import LocalStorage
from tests.chromium import CHROMIUM, CHROMIUM_ARGS

OWNER = Actor(None, "bench@example.org", "owner")
PHONE = {"width": 412, "height": 915}


async def upload(stack: Stack, storage: LocalStorage, sessions: Any, contest_id: int, clip: bytes) -> uuid.UUID:
    """As a browser does: a grant, then the clip in the grant's chunks to the media server."""
    grant = await uploads.grant(sessions, storage, contest_id, UploadKind.CLIP, None, datetime.now(UTC))
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
                states = list(await session.scalars(select(MediaUpload.state).where(MediaUpload.id.in_(upload_ids))))
            if UploadState.REFUSED in states:
                raise SystemExit("a clip was refused")
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
                          max_votes_per_order=100, ussd_service_codes=["*384*321#"], providers=["mtn", "orange"])
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
        await set_candidate_clip(sessions, OWNER, candidate_id, upload_id, datetime.now(UTC))
    await engine.dispose()
    return f"{stack.base_url}/c/video-bench?lang=en", f"{stack.base_url}/c/video-bench/01?lang=en"


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


def lighthouse(url: str) -> str:
    """Lighthouse's mobile scores (performance, accessibility, best practices, SEO), or why there are none."""
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
        categories = json.loads(report.read_text())["categories"]
    return ", ".join(f"{c['title']} {round(c['score'] * 100)}" for c in categories.values())


async def run(candidates: int, seconds: int, with_lighthouse: bool) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as scratch, running_stack(web_processes=1, worker_processes=1) as stack:
        contest_url, candidate_url = await video_contest(stack, candidates, seconds, Path(scratch))
        async with httpx.AsyncClient() as http:
            page = (await http.get(candidate_url)).text
            source = page.split('<source src="', 1)[1].split('"', 1)[0]
            clip_bytes = len((await http.get(source)).content)
        figures = await measure(contest_url, candidate_url, clip_bytes)
        if with_lighthouse:
            figures["Lighthouse, mobile, candidate page"] = await asyncio.to_thread(lighthouse, candidate_url)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.viewer", description=__doc__)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--no-lighthouse", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(run(args.candidates, args.seconds, not args.no_lighthouse))
    record("viewer", print_report("viewer: what a phone downloads to watch a video contest", figures))


if __name__ == "__main__":
    main()
