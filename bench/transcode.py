"""A candidate's clip through media.processing on this machine: a minute of 1080p (made here with ffmpeg's test
sources, at a phone's bitrate) probed and turned into its 360p and 720p renditions, poster and preview: the wall
time, the CPU and the largest ffmpeg's peak memory. With `--with-votes`, `bench.votes` then runs twice on the
whole stack, alone and beside two such clips transcoding at once, each recorded as its own section.

    python -m bench.transcode [--seconds 60] [--size 1920x1080] [--with-votes]

The target: while two clips transcode, callback -> tally p99 stays under 100 ms and confirmed/s falls by at
most a quarter.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import print_report, record
from media.ffmpeg import TRANSCODE, run_ffmpeg
from media.processing import ProcessedClip, process_clip


def phone_clip(path: Path, seconds: int, size: str) -> Path:
    """A clip of `seconds` at `size`, 30 fps, at 6 Mbit/s with sound: what a phone's camera writes."""
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
                "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6000k", "-c:a", "aac",
                "-movflags", "+faststart", "-f", "mp4", "-y", str(path)], TRANSCODE)
    return path


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def one_clip(source: Path, folder: Path) -> dict[str, str]:
    cpu, started = children_cpu(), time.monotonic()
    made = process_clip(source, folder)
    wall = time.monotonic() - started
    if not isinstance(made, ProcessedClip):
        raise SystemExit(f"the clip was refused: {made.reason}")
    sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.1f} MB"
                      for path in (*made.renditions.values(), made.poster, made.preview))
    return {
        "wall time": f"{wall:.1f} s ({wall / (made.facts.seconds or 1):.2f} s per second of clip)",
        "ffmpeg CPU": f"{children_cpu() - cpu:.1f} s",
        "largest ffmpeg's peak memory": f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024} MB",
        "made": sizes,
    }


def measured_apart(source: Path, folder: Path) -> dict[str, str]:
    """`one_clip` in a fresh process: its children's peak memory is then the processing's alone, not that of the
    ffmpeg that made the source clip here."""
    result = subprocess.run([sys.executable, "-m", "bench.transcode", "--measure", str(source), str(folder)],
                            capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.splitlines()[-1]))


def votes(section: str) -> None:
    subprocess.run([sys.executable, "-m", "bench.votes", "--section", section], check=True)


def votes_beside_transcoding(source: Path, scratch: Path) -> None:
    """bench.votes while two clips transcode, again and again until it is done."""
    stop = threading.Event()

    def transcode_until_stopped(n: int) -> None:
        while not stop.is_set():
            process_clip(source, scratch / f"beside-{n}")

    workers = [threading.Thread(target=transcode_until_stopped, args=(n,)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    try:
        votes("votes-beside-two-transcodes")
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--with-votes", action="store_true")
    parser.add_argument("--measure", nargs=2, metavar=("SOURCE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(one_clip(Path(args.measure[0]), Path(args.measure[1]))))
        return
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as folder:
        scratch = Path(folder)
        made_at = time.monotonic()
        source = phone_clip(scratch / "upload", args.seconds, args.size)
        figures = {"source": f"{args.seconds} s at {args.size}, {source.stat().st_size / 1e6:.1f} MB "
                             f"(made in {time.monotonic() - made_at:.0f} s)", **measured_apart(source, scratch / "out")}
        record("transcode", print_report(f"transcode: a {args.seconds} s {args.size} clip", figures))
        if args.with_votes:
            votes("votes-alone")
            votes_beside_transcoding(source, scratch)


if __name__ == "__main__":
    main()
