"""The `gateway` command's subcommands, a module each (as a channel's commands come with its `ChannelParts`): each
module's `add(sub)` adds its subparsers, and `assembly.cli` collects them in the order of `BEFORE_CHANNELS`, the
channels' own, then `AFTER_CHANNELS`."""

from __future__ import annotations

from assembly.commands import accounts, backup, board, contests, database, ledger, media, orders, processes, rehearse

BEFORE_CHANNELS = (processes.add, media.add, orders.add)
AFTER_CHANNELS = (contests.add, board.add, ledger.add, database.add, backup.add, accounts.add, rehearse.add)
