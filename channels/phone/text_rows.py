"""The rows of the texts a phone channel owes (an SMS vote's replies and receipts, a USSD vote's receipt): one per
thing answered and kind, kept before the text goes, so that a job, relay or reconciler pass that runs again texts
nothing more.

A text is `claim`ed first: a new row (`queued`), or the row a failed send left `unsent`, taken again; nothing when
that text went out or is going out. Once Africa's Talking answers, `note_sent` keeps its id and status (`Sent`,
`Rejected`) or why it was not sent (`unsent`, for the next run to take again).

Each table names what a text answers in one or more owner columns (exactly one of them set a row), with a unique
constraint on each owner and the kind. The statements are `DriverStatement`s on an autocommit connection, each
committed on its own: through an ORM session each cost a worker more than the statement costs PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert

from channels.phone.at_messaging import DIRECT, AtMessaging, Route
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection

log = logging.getLogger(__name__)


class TextRows:
    def __init__(self, model: Any, owners: tuple[str, ...]) -> None:
        """`model`: the table's mapped class, with `id`, `kind`, `msisdn`, `text`, `status`, `at_message_id` and
        `failure_reason`; `owners`: its columns naming what a text answers."""
        self.owners = owners
        self.table = model.__tablename__
        given = (*owners, "kind", "msisdn", "text")
        self._new = DriverStatement(
            insert(model).values({**{name: bindparam(f"new_{name}") for name in given}, "status": "queued"})
            .on_conflict_do_nothing().returning(model.id), tuple(f"new_{name}" for name in given))
        self._take_again = {owner: DriverStatement(
            update(model).where(getattr(model, owner) == bindparam("owner"), model.kind == bindparam("kind"),
                                model.status == "unsent")
            .values(status="queued", text=bindparam("new_text")).returning(model.id), ("owner", "kind", "new_text"))
            for owner in owners}
        self._note = DriverStatement(update(model).where(model.id == bindparam("row")).values(
            at_message_id=bindparam("new_at_message_id"), status=bindparam("new_status"),
            failure_reason=bindparam("new_failure_reason")),
            ("row", "new_at_message_id", "new_status", "new_failure_reason"))

    async def claim(self, sessions: Sessions, owner: Mapping[str, object], kind: str, msisdn: str,
                    text: str) -> int | None:
        """The row to send `text` on now, or None when what `owner` names (one of the owner columns and its value)
        has had its text of this `kind` sent (or being sent)."""
        ((column, value),) = owner.items()
        if column not in self.owners:
            raise ValueError(f"{column} names nothing a text answers here")
        values = {f"new_{name}": value if name == column else None for name in self.owners}
        async with autocommit_connection(sessions) as connection:
            row = await self._new.fetchrow(connection, {**values, "new_kind": kind, "new_msisdn": msisdn,
                                                        "new_text": text})
            if row is None:  # a text of this kind exists: sent, being sent, or left unsent by a failed run
                row = await self._take_again[column].fetchrow(connection, {"owner": value, "kind": kind,
                                                                           "new_text": text})
        return None if row is None else int(row["id"])

    async def note_sent(self, sessions: Sessions, row: int, at_message_id: str | None, status: str,
                        failure_reason: str | None = None) -> None:
        async with autocommit_connection(sessions) as connection:
            await self._note.fetchrow(connection, {"row": row, "new_at_message_id": at_message_id,
                                                   "new_status": status, "new_failure_reason": failure_reason})

    async def send(self, sessions: Sessions, messaging: AtMessaging | None, row: int, msisdn: str, text: str,
                   route: Route = DIRECT) -> None:
        """Send a claimed row's text and note AT's answer; with no AT account, note it `unsent`. AT's errors and the
        network's, once retried, leave it `unsent` and are raised (the job fails, to be run again)."""
        if messaging is None:
            log.warning("%s %s not sent: no Africa's Talking account (AT_USERNAME/AT_API_KEY or AT_FAKE_URL)",
                        self.table, row)
            await self.note_sent(sessions, row, None, "unsent", "NoAccount")
            return
        try:
            answer = await messaging.send(msisdn, text, route)
        except messaging.send_errors as exc:
            log.warning("%s %s not sent after retries: %r", self.table, row, exc)
            await self.note_sent(sessions, row, None, "unsent", type(exc).__name__)
            raise
        await self.note_sent(sessions, row, answer.at_message_id, "Sent" if answer.accepted else "Rejected",
                             None if answer.accepted else answer.status)
