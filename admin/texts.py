"""The admin pages in the organiser's language: the templates say `_("English text")`, whose msgid lives
in the core's catalogs (gateway/core/locales) with every other text; tables of labels are marked here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from gateway.core.fraud import rules
from gateway.core.texts import N_, ORGANISER_LANGUAGES, TextDomain

# The texts of the admin pages: the `admin` domain of the catalogs in locales/ beside this module.
CATALOGS = TextDomain("admin", Path(__file__).parent / "locales", ORGANISER_LANGUAGES)
# The organisers read French or English; the voters' other languages (Swahili) have no admin catalog.
LANGUAGES = CATALOGS.languages

LANG_COOKIE = "ballot_admin_lang"
DEFAULT_LANGUAGE = "en"

BOARD_NAMES = {
    "live": N_("Live: counts as they move"),
    "hidden_counts": N_("Hidden counts: ranks only"),
    "frozen": N_("Frozen from a time"),
    "sealed": N_("Sealed until close: nothing public until the contest is closed"),
}
CONTEST_STATUSES = {"draft": N_("draft"), "open": N_("open"), "paused": N_("paused"), "closed": N_("closed")}
REVIEW_KINDS = {
    "flagged": N_("flagged"), "duplicate_payment": N_("duplicate payment"), "partial_refund": N_("partial refund"),
    "refund_requested": N_("refund requested"), "unverified_payment": N_("unverified payment"),
    "held": N_("held by a fraud rule"), "refund_failed": N_("refund refused by the provider"),
}
DECISION_NAMES = {"count": N_("Count"), "refund": N_("Refund"), "dismiss": N_("Dismiss"),
                  "refunded_by_hand": N_("Refunded by hand"), "send_again": N_("Send it again")}
ACTION_NAMES = {"open": N_("Open"), "pause": N_("Pause"), "close": N_("Close")}
STATUS_NAMES = {"active": N_("active"), "eliminated": N_("eliminated"), "hidden": N_("hidden")}
ROLE_NAMES = {"owner": N_("owner"), "organiser": N_("organiser"), "auditor": N_("auditor"), "support": N_("support"),
              "jury": N_("juror")}
ORDER_STATUSES = {"pending": N_("pending"), "paid": N_("paid"), "failed": N_("failed"), "expired": N_("expired"),
                  "flagged": N_("flagged"), "held": N_("held"), "refund_requested": N_("refund requested"),
                  "refunded": N_("refunded"), "late": N_("paid after the close: refunded")}
PAYOUT_STATES = {"awaiting_approval": N_("awaiting approval"), "declined": N_("declined"),
                 "requested": N_("requested"), "sent": N_("sent"), "by_hand": N_("to pay by hand"),
                 "succeeded": N_("paid out"), "failed": N_("failed")}
REFUND_STATES = {"requested": N_("requested"), "sent": N_("sent"), "succeeded": N_("refunded"), "failed": N_("failed")}
# The providers' labels (their parts' `label`, as payers know them) as an organiser reads them in the forms.
PROVIDER_LABELS = (N_("MTN MoMo"), N_("Orange Money"), N_("M-Pesa"), N_("Airtel Money"), N_("Bank card"),
                   N_("Telegram Stars"))
FRAUD_LABELS = rules.LABELS  # declared with each rule (gateway.core.fraud.rules.DECLARED)


def language_of(request: web.Request) -> str:
    """?lang=, then the admin's cookie, then the browser's first supported language, then English."""
    asked = request.query.get("lang", "").lower()
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE, "")
    if cookie in LANGUAGES:
        return cookie
    for part in request.headers.get("Accept-Language", "").split(",")[:20]:
        primary = part.split(";")[0].strip().lower().split("-")[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


@functools.cache
def gettext_for(lang: str) -> Callable[..., str]:
    """`_` of the templates: the catalog's text, formatted with keyword values when given."""
    catalog = CATALOGS.translations(lang)

    def translate(message: str, **values: object) -> str:
        text = catalog.gettext(message)
        return text.format(**values) if values else text

    return translate


def labels(table: dict[str, str], lang: str) -> dict[str, str]:
    catalog = CATALOGS.translations(lang)
    return {key: catalog.gettext(text) for key, text in table.items()}


TABLES = {"board_names": BOARD_NAMES, "fraud_labels": FRAUD_LABELS, "contest_statuses": CONTEST_STATUSES,
          "review_kinds": REVIEW_KINDS, "decision_names": DECISION_NAMES, "action_names": ACTION_NAMES,
          "status_names": STATUS_NAMES, "role_names": ROLE_NAMES, "order_statuses": ORDER_STATUSES,
          "payout_states": PAYOUT_STATES, "refund_states": REFUND_STATES}


@functools.cache
def tables(lang: str) -> dict[str, dict[str, str]]:
    """Every label table of the templates, in one language (read once per process)."""
    return {name: labels(table, lang) for name, table in TABLES.items()}
