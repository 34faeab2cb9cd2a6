"""Channels reach the core through `VoteService` and its DTOs, never through the core's ORM rows.

import-linter cannot tell a table from an enum in one module, so this walks every channel's imports of
`gateway.db` with `ast`: what a channel may take from it is the kit (the session type, an autocommit session or
connection from it, the driver's statements for its own hottest ones, the storable-text guards) and the values DTOs
carry (enums); its own tables live in its folder.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterator
from pathlib import Path

from gateway.db import models

CHANNELS = Path(__file__).resolve().parent.parent / "channels"
KIT = {"gateway.db.engine": {"Sessions", "autocommit", "autocommit_connection"},
       "gateway.db.driver_statements": {"DriverStatement"},
       "gateway.db.models": {"Base"},  # a channel's own tables share the core's metadata (one schema, one migrate)
       "gateway.db.storable": {"storable", "storable_json", "storable_strings"}}


def db_imports(path: Path) -> Iterator[tuple[str, str]]:
    """(module, name) for each name a file takes from gateway.db; a whole-module import as (module, "*")."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "gateway" and any(alias.name == "db" for alias in node.names):
                yield "gateway.db", "*"
            elif node.module == "gateway.db" or node.module.startswith("gateway.db."):
                yield from ((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from ((alias.name, "*") for alias in node.names if alias.name.startswith("gateway.db"))


def allowed(channel: str, module: str, name: str) -> bool:
    if name in KIT.get(module, set()):
        return True
    if module != "gateway.db.models":
        return False
    value = getattr(models, name, None)
    if isinstance(value, type) and issubclass(value, enum.Enum):
        return True
    table = getattr(value, "__tablename__", "")
    return table.startswith(f"{channel}_")


def refused_imports() -> list[str]:
    refused = []
    for path in sorted(CHANNELS.rglob("*.py")):
        relative = path.relative_to(CHANNELS).as_posix()
        channel = relative.split("/")[0]
        refused += [f"channels/{relative}: {name} from {module}" for module, name in db_imports(path)
                    if not allowed(channel, module, name)]
    return refused


def test_no_channel_takes_a_core_row_or_the_database_from_gateway_db() -> None:
    assert refused_imports() == []


def test_the_walk_sees_a_core_row_imported(tmp_path: Path) -> None:
    """The check itself: each way of importing a core row or the database is found, a kit name is not."""
    source = tmp_path / "pages.py"
    source.write_text("from gateway.db.models import VoteOrder, OrderStatus\nimport gateway.db.models\n"
                      "from gateway import db\nfrom gateway.db.engine import Sessions, create_engine\n")
    found = [(module, name) for module, name in db_imports(source) if not allowed("web", module, name)]
    assert found == [("gateway.db.models", "VoteOrder"), ("gateway.db.models", "*"), ("gateway.db", "*"),
                     ("gateway.db.engine", "create_engine")]
