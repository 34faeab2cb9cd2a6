"""Every relative link of the project's Markdown documents leads to a file or folder of the repository (and, to a
heading of a Markdown file, to a heading it has), so a document moved or renamed cannot leave a reader at a dead
end. A link that leaves the repository is refused too: what a newcomer is sent to read must be in the checkout."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = {"var", "node_modules", "__pycache__"}  # a run's data and caches, never documents of ours
# [text](target) and ![alt](target), the target up to a space (a title may follow) or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, …


def documents(folder: Path = ROOT) -> Iterator[Path]:
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in SKIPPED:
            continue
        if path.is_dir():
            yield from documents(path)
        elif path.suffix == ".md":
            yield path


def prose(text: str) -> str:
    """The text links are read in: code (fenced and inline) shows links as examples, never as links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = INLINE_CODE.sub(lambda code: code.group(0).strip("`"), heading.strip().lstrip("#").strip())
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(line) for line in FENCE.sub("", path.read_text()).splitlines() if line.startswith("#")}


def broken_links(text: str, folder: Path, here: Path | None = None) -> list[str]:
    """The links of `text`, a document in `folder` (`here`: the document itself, for a link to one of its
    headings), that lead nowhere."""
    problems = []
    for target in LINK.findall(prose(text)):
        if EXTERNAL.match(target):
            continue
        address, _, fragment = target.partition("#")
        linked = (folder / address).resolve() if address else here
        if linked is None:
            continue
        if not linked.is_relative_to(ROOT):
            problems.append(f"{target}: outside the repository")
        elif not linked.exists():
            problems.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            problems.append(f"{target}: no such heading")
    return problems


@pytest.mark.parametrize("document", list(documents()), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document.read_text(), document.parent, document) == []


def test_the_documents_are_found() -> None:
    found = {str(path.relative_to(ROOT)) for path in documents()}
    assert {"README.md", "docs/settings.md", "payments/mtn/README.md", "channels/ussd/README.md"} <= found


def test_a_dead_link_a_link_out_of_the_repository_and_a_missing_heading_are_caught() -> None:
    text = ("[gone](no-such-file.md) [out](../../../outside.md) [heading](settings.md#no-such-heading) "
            "[kept](settings.md#the-settings) ![picture](screenshots/overlay.png) `[code](x.md)` "
            "[web](https://example.org/x.md)\n```\n[fenced](y.md)\n```\n")
    assert broken_links(text, ROOT / "docs") == [
        "no-such-file.md: no such file", "../../../outside.md: outside the repository",
        "settings.md#no-such-heading: no such heading"]


def test_anchors_are_githubs() -> None:
    assert anchor("## 3. During the show: what each alert means") == "3-during-the-show-what-each-alert-means"
    assert anchor("### `NoVotesArriving`") == "novotesarriving"
    assert anchor("## Logs, `/metrics` and proxies") == "logs-metrics-and-proxies"
