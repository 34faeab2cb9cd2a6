"""Contest data for the pure menu tests: the demo contest and its home screens (the route tests' too), and a
contest whose names are hard for USSD."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from channels.ussd.menu import MenuContext, parse_path, walk
from channels.ussd.screens import Reply, render
from channels.ussd.views import Extras, MenuContest, PayOption, build_view
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.texts import Lang
from gateway.db.models import CandidateStatus, ContestStatus
from gateway.db.seed import DEMO_CANDIDATES

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BOTH = (PayOption("mtn", "MTN MoMo"), PayOption("orange", "Orange Money"))  # as the routes build them
HARD_NAMES = (
    ("01", "Émilie Ñúñez 👑"),
    ("02", "Zoë Kouassi-Bédié"),
    ("03", "Ôlá 🇨🇲 Stàr"),
    ("04", "👑👑👑"),
    ("05", "Łukasz Øster Straße"),
    ("06", "Ангелина"),
    ("07", "Jean-François « Le Roi » Mbappé–Ngassa"),
    ("08", "Chloé “Queen” O’Neil…"),
    ("09", "Ça[va]{bien}|ok~^€ \\o/"),
    ("10", "Ñ" * 40 + " Ébène " + "é" * 150),
    ("11", "Aïssatou\tN'Diaye\n"),
    ("12", "Zhāng Wěi 张伟"),
)
HARD_CONTEST = "Miss Côte d’Ivoire 2026 👑✨ — la grande finale des régions"
HOME_FR = "CON Demo Star 2026\n1 Voter\n2 Top 5\n3 Mes votes\n4 Langue/Language/Lugha"
HOME_EN = "CON Demo Star 2026\n1 Vote\n2 Top 5\n3 My votes\n4 Language/Langue/Lugha"
HOME_SW = "CON Demo Star 2026\n1 Piga kura\n2 Top 5\n3 Kura zangu\n4 Lugha/Language/Langue"


def record(slug: str = "demo", name: str = "Demo Star 2026", candidates: tuple[tuple[str, str], ...] = DEMO_CANDIDATES,
           eliminated: tuple[str, ...] = (), **overrides: Any) -> PublicContest:
    fields: dict[str, Any] = {
        "id": 1, "slug": slug, "name": name, "status": "open", "opens_at": NOW - timedelta(hours=1),
        "closes_at": NOW + timedelta(days=1), "price_per_vote": 100, "currency": "XAF", "max_votes_per_order": 100,
        "providers": ("mtn", "orange", "stripe"), "default_language": "fr", "show_counts": True,
        "board_frozen_at": None,
        "candidates": tuple(PublicCandidate(index, code, n, CandidateStatus.ELIMINATED if code in eliminated
                                            else CandidateStatus.ACTIVE)
                            for index, (code, n) in enumerate(candidates, start=1)),
    }
    fields.update(overrides)
    fields["status"] = ContestStatus(fields["status"])
    return PublicContest(**fields)


def view(usable: tuple[PayOption, ...] = BOTH, **overrides: Any) -> MenuContest:
    return build_view(record(**overrides), NOW, usable)


def demo() -> MenuContest:
    return view()


# An East African contest: Kenyan shillings, M-Pesa and Airtel Money, Swahili by default, hard names.
MOBILE_MONEY_EAST = (PayOption("mpesa", "M-Pesa"), PayOption("airtel", "Airtel Money"))


def east_african() -> MenuContest:
    return view(MOBILE_MONEY_EAST, slug="kura", name=HARD_CONTEST, candidates=HARD_NAMES, currency="KES",
                price_per_vote=10_000, max_votes_per_order=1000, providers=("mpesa", "airtel"),
                default_language="sw")


def hard() -> MenuContest:
    return view(slug="hard", name=HARD_CONTEST, candidates=HARD_NAMES, eliminated=("02",))


def context(*contests: MenuContest, operator: str | None = "mtn", preference: Lang | None = None,
            unavailable: MenuContest | None = None) -> MenuContext:
    return MenuContext(contests=contests, service_code="*384*123#", operator=operator, preference=preference,
                       unavailable=unavailable)


def screen(ctx: MenuContext, text: str, extras: Extras | None = None) -> Reply:
    return render(ctx, walk(ctx, parse_path(text)), extras)


def body(ctx: MenuContext, text: str, extras: Extras | None = None) -> str:
    return screen(ctx, text, extras).body
