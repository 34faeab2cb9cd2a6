"""docs/design.md is the map of the code, and this keeps it true: every route, setting, pass, path and module it names
exists, and every route, setting, pass and top-level folder that exists is named in it. A change that adds one without
a word in the map, or moves one the map points at, fails here with the names to add or mend."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

from assembly.settings import Settings
from assembly.web.app import create_app

ROOT = Path(__file__).parents[1]
DESIGN = ROOT / "docs" / "design.md"
ROOT_PACKAGES = ("assembly", "gateway", "channels", "payments", "leaderboard", "admin", "media", "tests", "bench")

CODE_SPAN = re.compile(r"`([^`\n]+)`")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ROUTE = re.compile(r"^((?:(?:GET|POST|PUT|PATCH|DELETE) )+)(/\S*)$")
SETTING = re.compile(r"^[A-Z][A-Z0-9_]+$")
PASS_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
DOTTED = re.compile(rf"^(?:{'|'.join(ROOT_PACKAGES)})(?:\.\w+)+$")
# A path: a span with a slash or a file's suffix, no spaces, no placeholder (`channels/<name>/`), no glob.
PATH = re.compile(r"^[\w.-]+(?:/[\w.-]*)*$")
SUFFIXES = (".py", ".md", ".toml", ".yml", ".yaml", ".html", ".js", ".css", ".cfg", ".ini", ".lock", ".txt", ".sh")


def document() -> str:
    return DESIGN.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text under `## <title>` up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", document(), re.S | re.M)
    assert match, f"docs/design.md has no '## {title}' section"
    return match.group(1)


def spans(text: str) -> list[str]:
    return CODE_SPAN.findall(text)


def first_cells(text: str) -> list[str]:
    """The code span opening each row of the tables in `text` (a header's or a rule's row has none)."""
    return [found.group(1) for line in text.splitlines()
            if (found := re.match(r"^\|\s*`([^`]+)`", line))]


def served_routes(data_dir: Path) -> set[tuple[str, str]]:
    """The app's routes, as built (nothing is started: the URLs point nowhere)."""
    settings = Settings(_env_file=None, database_url="postgresql+asyncpg://map@127.0.0.1:9/map",
                        redis_url="redis://127.0.0.1:9/0", gateway_data_dir=data_dir)
    return {(route.method, route.resource.canonical) for route in create_app(settings).router.routes()
            if route.method in METHODS and route.resource is not None}


def named_routes() -> set[tuple[str, str]]:
    named: set[tuple[str, str]] = set()
    for span in spans(section("Routes")):
        if found := ROUTE.match(span):
            named |= {(method, found.group(2)) for method in found.group(1).split()}
    return named


def house_passes() -> set[str]:
    """Every pass the worker runs by name, and every periodic job's stable name."""
    from assembly.worker.passes import PASSES
    from assembly.worker.rq_worker import PERIODIC_JOBS
    return {each.name for each in PASSES} | {job.slot_name for job in PERIODIC_JOBS}


def test_the_map_names_every_route_the_app_serves_and_no_other(tmp_path: Path) -> None:
    served, named = served_routes(tmp_path), named_routes()
    assert not served - named, f"routes served but missing from docs/design.md: {sorted(served - named)}"
    assert not named - served, f"routes in docs/design.md that the app does not serve: {sorted(named - served)}"


def test_the_map_names_every_setting_and_no_other() -> None:
    known = {name.upper() for name in Settings.model_fields}
    named = {span for span in spans(section("Settings")) if SETTING.match(span)}
    assert not known - named, f"settings missing from docs/design.md: {sorted(known - named)}"
    assert not named - known, f"settings in docs/design.md that do not exist: {sorted(named - known)}"


def test_the_map_names_every_pass_and_no_other() -> None:
    named = {cell for cell in first_cells(section("Passes")) if PASS_NAME.match(cell)}
    known = house_passes()
    assert not known - named, f"passes missing from docs/design.md: {sorted(known - named)}"
    assert not named - known, f"passes in docs/design.md that do not exist: {sorted(named - known)}"


def tracked_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("the map's check reads the tracked files with git: run it in a clone")
    return listed.splitlines()


def test_the_map_names_every_top_level_folder() -> None:
    folders = {path.split("/", 1)[0] for path in tracked_files() if "/" in path and not path.startswith(".")}
    named = set(spans(document()))
    missing = sorted(folder for folder in folders if f"{folder}/" not in named)
    assert not missing, f"top-level folders docs/design.md does not name (as `folder/`): {missing}"


def looks_like_path(span: str) -> bool:
    return bool(PATH.match(span)) and ("/" in span or span.endswith(SUFFIXES)) and not DOTTED.match(span)


def test_every_path_the_map_names_exists() -> None:
    """A path from the repository's root; a bare file name (`provider.py`, as every provider has) names some file."""
    names = {Path(path).name for path in tracked_files()}
    missing = sorted({span for span in spans(document()) if looks_like_path(span)
                      and not ((ROOT / span).exists() if "/" in span else span in names)})
    assert not missing, f"paths in docs/design.md that do not exist: {missing}"


def resolves(dotted: str) -> bool:
    """A module, or an attribute of the longest module that prefixes it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            continue
        thing: object = importlib.import_module(module_name)
        for attribute in parts[cut:]:
            if not hasattr(thing, attribute):
                return False
            thing = getattr(thing, attribute)
        return True
    return False


def test_every_module_the_map_names_exists() -> None:
    unknown = sorted({span for span in spans(document()) if DOTTED.match(span) and not resolves(span)})
    assert not unknown, f"modules or names in docs/design.md that do not exist: {unknown}"


def test_the_checks_bite() -> None:
    """What the checks read is what the document writes: a route line, a setting, a table's first cell, a path."""
    assert ROUTE.match("GET POST /admin/contests/{contest_id}/edit")
    assert first_cells("| `relay-outbox` | 5 s |\n|---|---|\n") == ["relay-outbox"]
    assert looks_like_path("gateway/core/money_in/") and looks_like_path("pyproject.toml")
    assert not looks_like_path("channels/<name>/") and not looks_like_path("gateway.core.service")
    assert resolves("gateway.core.service.VoteService") and not resolves("gateway.core.service.NoSuchThing")
