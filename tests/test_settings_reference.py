"""The settings reference (docs/settings.md) names every setting `Settings` reads, once, and nothing else; each
provider's and channel's own document names only settings that exist. A setting added without a line, or a line
left for a setting that is gone, fails here rather than in an operator's hands."""

from __future__ import annotations

import re
from pathlib import Path

from assembly.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "settings.md"
FOLDER_DOCUMENTS = sorted([*ROOT.glob("payments/*/README.md"), *ROOT.glob("channels/*/README.md")])
ROW = re.compile(r"^\|\s*((?:`[A-Z][A-Z0-9_]*`(?:,\s*)?)+)\s*\|", re.MULTILINE)
# Read from the environment outside `Settings`: the payment sandbox's own switches.
OUTSIDE_SETTINGS = {"SANDBOX_MTN_STATUS_CALLS_PER_SECOND", "SANDBOX_ORANGE_REQUESTS_PER_SECOND",
                    "SANDBOX_AIRTEL_CALLBACK_URL"}


def settings_read() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def rows(text: str) -> list[str]:
    """The setting names a document's tables give a row (the first cell: one name, or several, comma-separated)."""
    return [name for cell in ROW.findall(text) for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)]


def test_the_reference_names_every_setting_once_and_nothing_else() -> None:
    named = rows(REFERENCE.read_text().split("## Read outside")[0])
    assert sorted(name for name in set(named) if named.count(name) > 1) == []
    assert sorted(settings_read() - set(named)) == []
    assert sorted(set(named) - settings_read()) == []


def test_each_folder_document_names_real_settings() -> None:
    assert len(FOLDER_DOCUMENTS) >= 12
    unknown = {str(path.relative_to(ROOT)): sorted(set(rows(path.read_text())) - settings_read() - OUTSIDE_SETTINGS)
               for path in FOLDER_DOCUMENTS}
    assert {path: names for path, names in unknown.items() if names} == {}


def test_rows_are_read_from_the_first_cell() -> None:
    text = "| `A_B`, `C` | 1 | `NOT_THIS` |\n| setting | default |\n| `D` | x |\nprose `E`\n"
    assert rows(text) == ["A_B", "C", "D"]
