"""The public pages in the reader's language: their texts by name, the choice of language, and what a
status page says about an order. Templates and handlers say `t("key")`; the English text of each key is a
msgid of the web's catalogs (the `web` domain, locales/ beside this module), where every language's
translation lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web

from channels.web.bundle_texts import BUNDLE_TEXTS
from channels.web.candidate_texts import CANDIDATE_TEXTS
from channels.web.certificate_texts import CERTIFICATE_TEXTS
from channels.web.entry_texts import ENTRY_TEXTS
from channels.web.free_vote_texts import FREE_VOTE_TEXTS
from channels.web.late_vote_texts import LATE_VOTE_TEXTS, late_rule
from channels.web.market_texts import MARKET_TEXTS
from channels.web.meta_texts import META_TEXTS
from channels.web.number_proof_texts import NUMBER_PROOF_TEXTS
from channels.web.overlay_texts import OVERLAY_TEXTS
from channels.web.prompt_texts import PROMPT_TEXTS
from channels.web.refusal_texts import readable_refusal
from gateway.core.contests.catalog import VoterOrder
from gateway.core.money_in.reasons import reason_code, voter_reason
from gateway.core.providers import Approval, Providers
from gateway.core.texts import (
    DEFAULT_ZONE,
    LANGUAGES,
    N_,
    TextDomain,
    format_date,
    format_money,
    format_number,
    shown_digits,
)
from gateway.db.models import OrderStatus

# The texts of the public pages: the `web` domain of the catalogs in locales/ beside this module.
CATALOGS = TextDomain("web", Path(__file__).parent / "locales")

LANG_COOKIE = "ballot_lang"
LANG_COOKIE_AGE = 365 * 86400

# The page texts by name, as the templates and handlers ask for them.
PAGE_TEXTS: dict[str, str] = {
    # Translators: this language's own name, on the link that switches the page to it.
    "lang_name": N_("English"),
    "skip": N_("Skip to content"),
    "tagline": N_("Vote for your favourite, pay by mobile money or card."),
    "footer": N_("A vote counts only once its payment is confirmed."),
    "index_title": N_("Open contests"),
    "index_empty": N_("No contest is open for voting right now."),
    "closes_on": N_("Voting closes on {date}"),
    "opens_on": N_("Voting opens on {date}"),
    "price_per_vote": N_("{price} per vote"),
    "vote_in": N_("Vote in {contest}"),
    "candidates": N_("Candidates"),
    "board_title": N_("Live ranking"),
    "state_connecting": N_("Connecting…"),
    "state_live": N_("Live"),
    "state_reconnecting": N_("Reconnecting…"),
    "state_polling": N_("Updates every 10 s"),
    "state_static": N_("Refresh the page for the latest ranking"),
    "board_nojs": N_("This ranking refreshes itself every 30 seconds."),
    "board_frame_title": N_("Live ranking of {contest}"),
    "counts_hidden": N_("The organiser hides the vote counts: only the ranking is shown."),
    "board_frozen": N_("The ranking is frozen until the results are announced."),
    "board_sealed": N_("The results are sealed until voting is closed."),
    "rank": N_("No. {rank}"),
    "total_votes": N_("{votes} in total"),
    "new_leader": N_("{name} is now in first place."),
    "vote_title": N_("Vote"),
    "field_candidate": N_("Candidate"),
    "field_quantity": N_("Number of votes"),
    "quantity_hint": N_("{price} per vote, up to {max} votes per payment."),
    "total": N_("Total: {amount}"),
    "field_provider": N_("Pay with"),
    "provider_mtn": N_("MTN Mobile Money"),
    "provider_orange": N_("Orange Money"),
    "provider_stripe": N_("Bank card"),
    "field_msisdn": N_("Mobile money number"),
    "redirect_hint": N_("Orange Money and cards open the provider's payment page, then bring you back here."),
    "submit": N_("Vote and pay"),
    "sending": N_("Sending…"),
    "errors_title": N_("Please correct the following:"),
    "voting_closed": N_("Voting is closed for this contest."),
    "voting_paused": N_("Voting is paused for now. Come back soon."),
    "voting_not_open": N_("Voting has not opened yet."),
    "approve_title": N_("Approve on your phone"),
    "approve_body": N_("Approve the payment of {amount} on {phone} to confirm {votes} for {candidate}. If no prompt "
                       "appears, open your mobile money menu to approve the pending payment."),
    "waiting_title": N_("Waiting for the payment"),
    "waiting_body": N_("We are waiting for the confirmation of your payment of {amount} for {votes} for {candidate}."),
    "cancelled_title": N_("Payment cancelled"),
    "cancelled_body": N_("You left the payment page: your vote counts only if the payment is completed."),
    "paid_title": N_("Thank you! Your vote counts."),
    "paid_body": N_("We counted {votes} for {candidate} ({amount})."),
    "failed_title": N_("The payment did not go through"),
    "expired_title": N_("The payment was not approved in time"),
    "not_counted": N_("Your vote was not counted."),
    "flagged_title": N_("We are checking your payment"),
    "flagged_body": N_("Your payment needs a check by our team. Quote the reference below if you contact the "
                       "organiser."),
    "refund_requested_title": N_("Refund requested"),
    "refund_requested_body": N_("A refund of this payment has been requested; its votes do not count."),
    "refunded_title": N_("Refunded"),
    "refunded_body": N_("This payment was refunded; its votes do not count."),
    "page_updates": N_("This page updates by itself."),
    "reference": N_("Reference"),
    "order_title": N_("Your vote"),
    "vote_again": N_("Vote again"),
    "back_to": N_("Back to {contest}"),
    "follow_order": N_("Follow this vote on its own page"),
    "all_contests": N_("All contests"),
    "not_found_title": N_("Page not found"),
    "contest_not_found": N_("This contest does not exist or is not public."),
    "order_not_found": N_("No vote has this reference."),
    "csrf_title": N_("This form has expired"),
    "csrf_body": N_("For your security, please reload the page and vote again."),
    "rate_title": N_("Too many attempts"),
    "rate_body": N_("Too many votes were sent from your connection. Please wait a minute and try again."),
    "error_title": N_("Something went wrong"),
    "error_body": N_("Something went wrong on our side. Nothing was charged twice; please try again."),
    "reload": N_("Reload the page"),
    "err_candidate": N_("Choose a candidate."),
    "err_quantity": N_("Enter a number of votes between 1 and {max}."),
    "err_provider": N_("Choose how to pay."),
    "err_msisdn_required": N_("Enter the mobile money number that will pay."),
    "err_invalid_msisdn": N_("This is not a valid phone number."),
    "err_number_not_served": N_("This contest's mobile money takes numbers of its own country only."),
    "err_msisdn_blocked": N_("This number cannot vote. Contact the organiser if you think this is a mistake."),
    "err_address_blocked": N_("Votes from your connection are refused. Contact the organiser if you think this is "
                              "a mistake."),
    "err_msisdn_rate_limited": N_("Too many votes from this number. Please try again later."),
    "err_candidate_not_active": N_("This candidate can no longer receive votes."),
    "err_provider_unavailable": N_("This payment method is not available right now. Please choose another."),
    "err_payment_refused": N_("The payment could not be started: {reason}"),
    "err_payment_unavailable": N_("The payment service did not answer. Please try again in a moment."),
    "err_contest_not_open": N_("Voting is not open for this contest."),
    "err_contest_closed": N_("Voting has closed."),
    "payment_failed": N_("The payment failed."),
    # "My vote counted" and the public ledger
    "verify_title": N_("Did my vote count?"),
    "verify_intro": N_("Enter the reference on your receipt to see whether your vote counted and where the public "
                       "ledger holds it."),
    "field_reference": N_("Reference on the receipt"),
    "reference_hint": N_("8 letters and digits, such as 1A2B3C4D."),
    "verify_submit": N_("Check"),
    "verify_bad_reference": N_("Enter the reference on your receipt: 8 letters and digits, such as 1A2B3C4D."),
    "verify_not_found": N_("No vote has that reference. Check it on your receipt."),
    "verify_ambiguous": N_("Several votes share that reference: open the link on your receipt instead."),
    "verify_rate_body": N_("Too many look-ups from your connection. Please wait a minute and try again."),
    "field_payer": N_("Paid from"),
    "field_contest": N_("Contest"),
    "outcome_counted": N_("Your vote counted."),
    "outcome_pending": N_("Not counted yet: the payment is not confirmed."),
    "outcome_failed": N_("Not counted: the payment failed."),
    "outcome_expired": N_("Not counted: the payment was not approved in time."),
    "outcome_held": N_("Not counted yet: the payment went through and waits for a check by a person."),
    "outcome_flagged": N_("Not counted: the payment needs a check by a person."),
    "outcome_reversed": N_("Counted, then taken back off: the payment provider did not confirm the payment."),
    "outcome_rejected": N_("Not counted: refused after a check; the money is given back."),
    "outcome_refunded": N_("Not counted: the payment was refunded."),
    "ledger_entries_title": N_("In the public ledger"),
    "entry_line": N_("Entry no. {seq}: {kind}, {votes}, on {date}"),
    "entry_line_sealed": N_("Entry: {kind}, {votes}, on {date}"),
    "entry_hash": N_("Hash"),
    "kind_counted": N_("counted"),
    "kind_released": N_("counted after a check"),
    "kind_review_counted": N_("counted after a check"),
    "kind_rejected": N_("refused after a check"),
    "kind_reversed": N_("taken back off"),
    "kind_refunded": N_("refunded"),
    "kind_opening": N_("counted before the ledger"),
    "no_entry": N_("No ledger entry: the ledger records only votes counted, taken off or decided."),
    "checkpoint_covers": N_("Covered by the checkpoint of {date} (entries: {entries}; head: {head})."),
    "checkpoint_covers_sealed": N_("Covered by the checkpoint of {date} (head: {head})."),
    "ledger_sealed": N_("The results are sealed until voting is closed: the entries' numbers and the checkpoints' "
                        "counts are shown then."),
    "checkpoint_next": N_("No checkpoint covers it yet: the next is due by {date}."),
    "ledger_title": N_("Public vote ledger"),
    "ledger_intro": N_("Every vote counted, taken off or decided after a check is chained in a ledger. Its "
                       "checkpoints, published here, let anyone check the count later."),
    "checkpoint_line": N_("{date} (entries: {entries}; head: {head})"),
    "checkpoint_line_sealed": N_("{date} (head: {head})"),
    "checkpoint_close": N_("at close"),
    "no_checkpoint": N_("No checkpoint yet."),
    "verify_link": N_("Check that your vote counted"),
    "results_title": N_("Signed results"),
    "results_sheet": N_("Results sheet (CSV)"),
    "results_signature": N_("Signature (Ed25519)"),
    "results_key": N_("Public key"),
    **ENTRY_TEXTS,
    **FREE_VOTE_TEXTS,
    **NUMBER_PROOF_TEXTS,
    **LATE_VOTE_TEXTS,
    **PROMPT_TEXTS,
    **CANDIDATE_TEXTS,
    **BUNDLE_TEXTS,
    **CERTIFICATE_TEXTS,
    **OVERLAY_TEXTS,
    **META_TEXTS,
    **MARKET_TEXTS,
}
# Core error codes that share a message with the form's own checks.
CODE_KEYS = {"candidate_not_found": "err_candidate", "invalid_quantity": "err_quantity",
             "provider_not_enabled": "err_provider"}

@dataclass(frozen=True)
class Translator:
    """`t("key", name=…)` in one language; a text its catalog lacks is the English msgid, an unknown key
    is shown as it is."""

    lang: str

    def __call__(self, key: str, /, **values: object) -> str:
        msgid = PAGE_TEXTS.get(key)
        text = CATALOGS.translations(self.lang).gettext(msgid) if msgid else key
        return text.format(**values) if values else text

    def provider(self, provider: str, providers: Providers) -> str:
        """A payment provider's name in the reader's language where the catalog has one, else as it names itself."""
        key = f"provider_{provider}"
        return self(key) if key in PAGE_TEXTS else providers.label(provider)

    @property
    def others(self) -> tuple[str, ...]:
        """Every language but the page's, in `Lang`'s order: the page links to each."""
        return tuple(lang for lang in LANGUAGES if lang != self.lang)

    @staticmethod
    def own_name(lang: str) -> str:
        """A language's name in that language, on the link that switches the page to it."""
        return Translator(lang)("lang_name")

    def votes(self, n: int) -> str:
        return self.vote_form(n).format(n=self.number(n))

    def vote_form(self, n: int) -> str:
        """The catalog's plural form for n votes (French counts 0 and 1 as singular; English only 1)."""
        return CATALOGS.translations(self.lang).ngettext("{n} vote", "{n} votes", n)

    def number(self, n: int) -> str:
        return format_number(n, self.lang)

    def money(self, amount: int, currency: str) -> str:
        """Minor units as the voter reads them: `1 500 XAF`, `12,50 EUR` / `1,500 XAF`, `12.50 EUR`."""
        return format_money(amount, currency, self.lang)

    def money_digits(self, currency: str) -> int:
        return shown_digits(currency)

    def date(self, when: datetime, zone: str = DEFAULT_ZONE) -> str:
        """A moment on a contest's clock (its `time_zone`), the zone named."""
        return format_date(when, self.lang, zone)

    def late_rule(self, grace_seconds: int) -> str:
        """The contest's published late-vote rule (channels.web.late_vote_texts)."""
        return late_rule(CATALOGS.translations(self.lang).ngettext, grace_seconds)

    def reason(self, reason: str | None, fallback: str = "FAILED") -> str:
        """A failure reason from the core (English, with the provider's code in brackets) in the reader's words
        alone: the words of its code, else of `fallback`'s (gateway.core.money_in.reasons), never the code."""
        return voter_reason(reason, CATALOGS.translations(self.lang).gettext, fallback)

    def refusal(self, reason: str | None) -> str:
        """Why a candidate's clip or photo was refused, in this language (channels.web.refusal_texts)."""
        return readable_refusal(reason or "", CATALOGS.translations(self.lang).gettext)

    def js_strings(self) -> dict[str, str]:
        """What the page's script needs to speak the page's language."""
        keys = ("state_connecting", "state_live", "state_reconnecting", "state_polling", "state_static",
                "rank", "total_votes", "new_leader", "sending", "submit", "errors_title", "error_body", "total",
                "follow_order", "lines_countdown", "lines_closed")
        # The script knows two plural forms (French's and English's rule), one for 1 vote, one for 2.
        return {**{key: self(key) for key in keys}, "vote_one": self.vote_form(1), "vote_many": self.vote_form(2)}


def choose_language(request: web.Request, default: str | None = None) -> tuple[str, bool]:
    """The page's language and whether to remember it: ?lang=, then the cookie, then the browser's
    Accept-Language, then the contest's own language (French if none)."""
    asked = request.query.get("lang", "").lower()
    if asked in LANGUAGES:
        return asked, True
    cookie = request.cookies.get(LANG_COOKIE, "")
    if cookie in LANGUAGES:
        return cookie, False
    accepted = from_accept_language(request.headers.get("Accept-Language", ""))
    if accepted:
        return accepted, False
    return (default if default in LANGUAGES else "fr"), False


def from_accept_language(header: str) -> str | None:
    """The supported language the browser prefers most, e.g. `en-GB,fr;q=0.8` → `en`."""
    best: tuple[float, str] | None = None
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        quality = parse_quality(params)
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, primary)
    return best[1] if best else None


def parse_quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def remember_language(response: web.StreamResponse, lang: str, secure: bool) -> None:
    response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_AGE, path="/", samesite="Lax", secure=secure)


def error_message(tr: Translator, code: str, field: str | None, fallback: str, values: Mapping[str, object]) -> str:
    """A core error (VoteRejected and friends) in the page's language, by its stable code."""
    if code == "rate_limited" and field == "msisdn":
        return tr("err_msisdn_rate_limited")
    key = CODE_KEYS.get(code, f"err_{code}")
    if key in PAGE_TEXTS:
        return tr(key, **values)
    return fallback


@dataclass(frozen=True)
class OrderWords:
    """What the status page (and the form's status panel) says about an order."""

    status: str
    terminal: bool
    title: str
    body: str
    tone: str  # wait, ok, bad or info: the panel's colour

    def as_json(self) -> dict[str, object]:
        return asdict(self)


SETTLED_WORDS = {
    OrderStatus.FLAGGED: ("flagged_title", "flagged_body"),
    OrderStatus.REFUND_REQUESTED: ("refund_requested_title", "refund_requested_body"),
    OrderStatus.REFUNDED: ("refunded_title", "refunded_body"),
    OrderStatus.LATE: ("late_title", "late_body"),  # paid after the lines closed and their grace: being refunded
}


@dataclass(frozen=True)
class PaymentWay:
    """How an order's payer pays: on the provider's page (`redirects`), else by a prompt on the phone, approved as its
    provider declares (`approval`); `provider` is its name as the reader knows it."""

    redirects: bool
    approval: Approval = Approval.MENU_APPROVAL
    provider: str = ""


def order_words(view: VoterOrder, tr: Translator, way: PaymentWay, cancelled: bool = False) -> OrderWords:
    """Pending: what to do now (enter the PIN on the prompt, approve it, or wait for the payment page's answer);
    decided: the outcome, with the provider's reason in the reader's words."""
    order, status = view, view.status
    values = {"amount": tr.money(order.amount, order.currency), "votes": tr.votes(order.quantity),
              "candidate": view.candidate_name, "phone": mask_phone(order.msisdn), "provider": way.provider}
    fee = "fee_" if view.entry_fee else ""  # an entry's fee: the same steps, other words
    if status is OrderStatus.PENDING:
        key = ("cancelled" if cancelled else "waiting") if way.redirects else \
            "approve_pin" if way.approval is Approval.PIN_PROMPT else "approve"
        body = tr(f"{fee}{key}_body", **values)
        if reason_code(order.status_reason):  # why its prompt is sent again (another held the phone): what to do first
            body = f"{tr.reason(order.status_reason)} {body}"
        return OrderWords(status.value, False, tr(f"{key}_title", **values), body, "wait")
    if status is OrderStatus.PAID:
        return OrderWords(status.value, True, tr(f"{fee}paid_title"), tr(f"{fee}paid_body", **values), "ok")
    if status in (OrderStatus.FAILED, OrderStatus.EXPIRED):
        fallback = "EXPIRED" if status is OrderStatus.EXPIRED else "FAILED"
        body = f"{tr.reason(order.status_reason, fallback)} {tr('fee_not_paid' if fee else 'not_counted')}"
        return OrderWords(status.value, True, tr(f"{status.value}_title"), body, "bad")
    title, body = SETTLED_WORDS.get(status, ("flagged_title", "flagged_body"))
    return OrderWords(status.value, True, tr(title), tr(body), "info")


def mask_phone(e164: str | None) -> str:
    """Enough of the number to recognise it, not enough to copy it from a shared link."""
    if not e164 or len(e164) < 8:
        return e164 or ""
    return f"{e164[:4]} {'•' * (len(e164) - 7)} {e164[-3:]}"
