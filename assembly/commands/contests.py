"""`gateway contest pause | resume SLUG|ID`: the show's pause from a terminal, when the admin area is out of reach
or slower to get to. The admin area's own operation (its checks, its audit entry, under the operator's login name
here), so a pause is the same whichever way it was made."""

from __future__ import annotations

import argparse
import getpass
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings

if TYPE_CHECKING:
    from gateway.db.engine import Sessions
    from gateway.db.models import Contest

# Each command's action of the admin area (`contests_admin.TRANSITIONS`), and the status it resumes from.
ACTIONS = {"pause": "pause", "resume": "open"}


@dataclass(frozen=True)
class Changed:
    slug: str
    contest_id: int
    name: str
    before: str
    after: str
    opens_at: datetime
    closes_at: datetime


async def find_contest(sessions: Sessions, key: str) -> Contest:
    """The contest of that slug, else of that number (a slug may be all digits: the slug wins)."""
    from sqlalchemy import or_, select

    from gateway.core.errors import NotFound
    from gateway.db.models import Contest

    wanted = [Contest.slug == key] + ([Contest.id == int(key)] if key.isdecimal() and len(key) <= 9 else [])
    async with sessions() as session:
        found = list((await session.scalars(select(Contest).where(or_(*wanted)))).all())
    if not found:
        raise NotFound(f"No contest has the slug or number {key!r}.", code="contest_not_found")
    return next((contest for contest in found if contest.slug == key), found[0])


def cmd_contest(settings: Settings, args: argparse.Namespace) -> int:
    from assembly.channel_list import CONTEST_SETTINGS
    from gateway.core.audit import Actor
    from gateway.core.contests import contests_admin
    from gateway.core.errors import Conflict
    from gateway.db.models import ContestStatus

    actor = Actor(None, f"cli:{getpass.getuser()}", "owner")

    async def change(sessions: Sessions) -> Changed:
        contest = await find_contest(sessions, args.contest)
        before = contest.status
        if args.contest_command == "resume" and before is not ContestStatus.PAUSED:
            # Opening a draft starts a show: done on its page, never by a resume aimed at the wrong contest.
            raise Conflict(f"Contest {contest.slug} is {before.value}, not paused: there is nothing to resume.",
                           code="invalid_transition")
        after = await contests_admin.change_status(sessions, actor, contest.id, ACTIONS[args.contest_command],
                                                   CONTEST_SETTINGS)
        return Changed(after.slug, after.id, after.name, before.value, after.status.value, after.opens_at,
                       after.closes_at)

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        changed = with_database(settings, change)
    print("\n".join(report(changed, actor.email)))
    return 0


def report(changed: Changed, who: str) -> list[str]:
    lines = [f"contest {changed.slug} (#{changed.contest_id}, {changed.name}): {changed.before} -> {changed.after}, "
             f"audited as {who}"]
    if changed.after == "paused":
        lines.append("Every channel now answers that voting is paused; orders already placed still count once "
                     f"their payment is confirmed. Resume: gateway contest resume {changed.slug}")
        return lines
    now = datetime.now(UTC)
    if now < changed.opens_at:
        lines.append(f"Voting begins at its opening time, {moment(changed.opens_at)}.")
    else:
        lines.append(f"Voting is open again, until {moment(changed.closes_at)}.")
    return lines


def moment(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def add(sub: Subcommands) -> None:
    contest = sub.add_parser("contest", help="a contest on air: pause or resume its voting").add_subparsers(
        dest="contest_command", required=True)
    pause = contest.add_parser("pause", help="pause voting (as the admin page's Pause; audited under your login)")
    pause.add_argument("contest", metavar="SLUG|ID", help="the contest's slug, or its number (in its admin address)")
    pause.set_defaults(func=cmd_contest)
    resume = contest.add_parser("resume", help="resume a paused contest's voting (as the admin page's Open)")
    resume.add_argument("contest", metavar="SLUG|ID", help="the contest's slug, or its number (in its admin address)")
    resume.set_defaults(func=cmd_contest)
