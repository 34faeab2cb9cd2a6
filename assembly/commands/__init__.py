"""The `gateway` command's subcommands, a module each (as a channel's commands come with its `ChannelParts`): each
module's `add(sub)` adds its subparsers, and `assembly.cli` collects them in the order of `BEFORE_CHANNELS`, the
channels' own, then `AFTER_CHANNELS`. Each module is named here with the commands it adds, so that a run imports
only its command's module (what that command works on), not every command's, channel's and provider's code."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assembly.commands.services import Subcommands

# module of assembly.commands -> the `gateway <command>`s its add(sub) adds
BEFORE_CHANNELS: Mapping[str, tuple[str, ...]] = {
    "processes": ("run", "stand-ins", "web", "worker"), "media": ("media",),
    "orders": ("reconcile", "refund", "review")}
AFTER_CHANNELS: Mapping[str, tuple[str, ...]] = {
    "contests": ("contest",), "board": ("leaderboard", "fanout"), "ledger": ("ledger", "results"),
    "database": ("migrate", "seed"), "backup": ("backup", "drill", "restore"), "accounts": ("admin",),
    "rehearse": ("rehearse",), "mpesa": ("mpesa",)}


def module_of(command: str) -> str | None:
    """The module adding `gateway <command>`; None for a channel's command or an unknown one."""
    return next((module for module, commands in {**BEFORE_CHANNELS, **AFTER_CHANNELS}.items()
                 if command in commands), None)


def adder(module: str) -> Callable[[Subcommands], None]:
    """A module's add(sub), its module imported now."""
    add: Callable[[Subcommands], None] = importlib.import_module(f"{__name__}.{module}").add
    return add
