"""French and English for the public pages: the strings, the choice of language, and numbers,
money and dates written the way each language writes them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from aiohttp import web

from gateway.catalog import OrderView
from gateway.core.money import UnknownCurrency, minor_digits
from gateway.models import OrderStatus

LANGUAGES = ("fr", "en")
LANG_COOKIE = "ballot_lang"
LANG_COOKIE_AGE = 365 * 86400
# Contests have no time zone yet: dates are shown in West Africa Time (Cameroon, no daylight saving).
LOCAL_TIME = timezone(timedelta(hours=1), "WAT")

EN: dict[str, str] = {
    "lang_name": "English",
    "skip": "Skip to content",
    "tagline": "Vote for your favourite, pay by mobile money or card.",
    "footer": "A vote counts only once its payment is confirmed.",
    "index_title": "Open contests",
    "index_empty": "No contest is open for voting right now.",
    "closes_on": "Voting closes on {date}",
    "opens_on": "Voting opens on {date}",
    "price_per_vote": "{price} per vote",
    "vote_in": "Vote in {contest}",
    "candidates": "Candidates",
    "board_title": "Live ranking",
    "state_connecting": "Connecting…",
    "state_live": "Live",
    "state_reconnecting": "Reconnecting…",
    "state_polling": "Updates every 10 s",
    "state_static": "Refresh the page for the latest ranking",
    "board_nojs": "This ranking refreshes itself every 30 seconds.",
    "board_frame_title": "Live ranking of {contest}",
    "counts_hidden": "The organiser hides the vote counts: only the ranking is shown.",
    "board_frozen": "The ranking is frozen until the results are announced.",
    "rank": "No. {rank}",
    "vote_one": "{n} vote",
    "vote_many": "{n} votes",
    "total_votes": "{votes} in total",
    "new_leader": "{name} is now in first place.",
    "vote_title": "Vote",
    "field_candidate": "Candidate",
    "field_quantity": "Number of votes",
    "quantity_hint": "{price} per vote, up to {max} votes per payment.",
    "total": "Total: {amount}",
    "field_provider": "Pay with",
    "provider_mtn": "MTN Mobile Money",
    "provider_orange": "Orange Money",
    "provider_stripe": "Bank card",
    "field_msisdn": "Mobile money number",
    "msisdn_hint": "For MTN and Orange: the number that pays, e.g. 6 70 12 34 56.",
    "redirect_hint": "Orange Money and cards open the provider's payment page, then bring you back here.",
    "submit": "Vote and pay",
    "sending": "Sending…",
    "errors_title": "Please correct the following:",
    "voting_closed": "Voting is closed for this contest.",
    "voting_paused": "Voting is paused for now. Come back soon.",
    "voting_not_open": "Voting has not opened yet.",
    "approve_title": "Approve on your phone",
    "approve_body": "Approve the payment of {amount} on {phone} to confirm {votes} for {candidate}. "
                    "If no prompt appears, open your mobile money menu to approve the pending payment.",
    "waiting_title": "Waiting for the payment",
    "waiting_body": "We are waiting for the confirmation of your payment of {amount} for {votes} "
                    "for {candidate}.",
    "cancelled_title": "Payment cancelled",
    "cancelled_body": "You left the payment page: your vote counts only if the payment is completed.",
    "paid_title": "Thank you! Your vote counts.",
    "paid_body": "We counted {votes} for {candidate} ({amount}).",
    "failed_title": "The payment did not go through",
    "expired_title": "The payment was not approved in time",
    "not_counted": "Your vote was not counted.",
    "flagged_title": "We are checking your payment",
    "flagged_body": "Your payment needs a check by our team. Quote the reference below if you contact "
                    "the organiser.",
    "refund_requested_title": "Refund requested",
    "refund_requested_body": "A refund of this payment has been requested; its votes do not count.",
    "refunded_title": "Refunded",
    "refunded_body": "This payment was refunded; its votes do not count.",
    "page_updates": "This page updates by itself.",
    "reference": "Reference",
    "order_title": "Your vote",
    "vote_again": "Vote again",
    "back_to": "Back to {contest}",
    "follow_order": "Follow this vote on its own page",
    "all_contests": "All contests",
    "not_found_title": "Page not found",
    "contest_not_found": "This contest does not exist or is not public.",
    "order_not_found": "No vote has this reference.",
    "csrf_title": "This form has expired",
    "csrf_body": "For your security, please reload the page and vote again.",
    "rate_title": "Too many attempts",
    "rate_body": "Too many votes were sent from your connection. Please wait a minute and try again.",
    "error_title": "Something went wrong",
    "error_body": "Something went wrong on our side. Nothing was charged twice; please try again.",
    "reload": "Reload the page",
    "err_candidate": "Choose a candidate.",
    "err_quantity": "Enter a number of votes between 1 and {max}.",
    "err_provider": "Choose how to pay.",
    "err_msisdn_required": "Enter the mobile money number that will pay.",
    "err_invalid_msisdn": "This is not a valid phone number.",
    "err_msisdn_blocked": "This number cannot vote. Contact the organiser if you think this is a mistake.",
    "err_msisdn_rate_limited": "Too many votes from this number. Please try again later.",
    "err_candidate_not_active": "This candidate can no longer receive votes.",
    "err_provider_unavailable": "This payment method is not available right now. Please choose another.",
    "err_payment_refused": "The payment could not be started: {reason}",
    "err_payment_unavailable": "The payment service did not answer. Please try again in a moment.",
    "err_contest_not_open": "Voting is not open for this contest.",
    "err_contest_closed": "Voting has closed.",
    "payment_failed": "The payment failed.",
}

FR: dict[str, str] = {
    "lang_name": "Français",
    "skip": "Aller au contenu",
    "tagline": "Votez pour votre favori, payez par Mobile Money ou par carte.",
    "footer": "Un vote n'est compté qu'une fois son paiement confirmé.",
    "index_title": "Concours ouverts",
    "index_empty": "Aucun concours n'est ouvert au vote pour le moment.",
    "closes_on": "Fin des votes le {date}",
    "opens_on": "Ouverture des votes le {date}",
    "price_per_vote": "{price} par vote",
    "vote_in": "Voter : {contest}",
    "candidates": "Candidats",
    "board_title": "Classement en direct",
    "state_connecting": "Connexion…",
    "state_live": "En direct",
    "state_reconnecting": "Reconnexion…",
    "state_polling": "Mis à jour toutes les 10 s",
    "state_static": "Rechargez la page pour le dernier classement",
    "board_nojs": "Ce classement se met à jour toutes les 30 secondes.",
    "board_frame_title": "Classement en direct : {contest}",
    "counts_hidden": "L'organisateur masque le nombre de votes : seul le classement est affiché.",
    "board_frozen": "Le classement est gelé jusqu'à l'annonce des résultats.",
    "rank": "N° {rank}",
    "vote_one": "{n} vote",
    "vote_many": "{n} votes",
    "total_votes": "{votes} au total",
    "new_leader": "{name} passe en tête.",
    "vote_title": "Voter",
    "field_candidate": "Candidat",
    "field_quantity": "Nombre de votes",
    "quantity_hint": "{price} par vote, jusqu'à {max} votes par paiement.",
    "total": "Total : {amount}",
    "field_provider": "Payer avec",
    "provider_mtn": "MTN Mobile Money",
    "provider_orange": "Orange Money",
    "provider_stripe": "Carte bancaire",
    "field_msisdn": "Numéro Mobile Money",
    "msisdn_hint": "Pour MTN et Orange : le numéro qui paie, par ex. 6 70 12 34 56.",
    "redirect_hint": "Orange Money et la carte ouvrent la page de paiement du prestataire, puis vous "
                     "ramènent ici.",
    "submit": "Voter et payer",
    "sending": "Envoi…",
    "errors_title": "Veuillez corriger :",
    "voting_closed": "Les votes sont clos pour ce concours.",
    "voting_paused": "Les votes sont suspendus pour le moment. Revenez bientôt.",
    "voting_not_open": "Les votes ne sont pas encore ouverts.",
    "approve_title": "Validez sur votre téléphone",
    "approve_body": "Validez le paiement de {amount} sur le {phone} pour confirmer {votes} pour "
                    "{candidate}. Si aucune demande n'apparaît, ouvrez le menu Mobile Money pour valider "
                    "le paiement en attente.",
    "waiting_title": "En attente du paiement",
    "waiting_body": "Nous attendons la confirmation de votre paiement de {amount} pour {votes} pour "
                    "{candidate}.",
    "cancelled_title": "Paiement annulé",
    "cancelled_body": "Vous avez quitté la page de paiement : votre vote ne compte que si le paiement "
                      "est terminé.",
    "paid_title": "Merci ! Votre vote est compté.",
    "paid_body": "Nous avons compté {votes} pour {candidate} ({amount}).",
    "failed_title": "Le paiement n'a pas abouti",
    "expired_title": "Le paiement n'a pas été validé à temps",
    "not_counted": "Votre vote n'a pas été compté.",
    "flagged_title": "Nous vérifions votre paiement",
    "flagged_body": "Votre paiement doit être vérifié par notre équipe. Donnez la référence ci-dessous si "
                    "vous contactez l'organisateur.",
    "refund_requested_title": "Remboursement demandé",
    "refund_requested_body": "Le remboursement de ce paiement a été demandé ; ses votes ne comptent pas.",
    "refunded_title": "Remboursé",
    "refunded_body": "Ce paiement a été remboursé ; ses votes ne comptent pas.",
    "page_updates": "Cette page se met à jour toute seule.",
    "reference": "Référence",
    "order_title": "Votre vote",
    "vote_again": "Voter à nouveau",
    "back_to": "Retour à {contest}",
    "follow_order": "Suivre ce vote sur sa propre page",
    "all_contests": "Tous les concours",
    "not_found_title": "Page introuvable",
    "contest_not_found": "Ce concours n'existe pas ou n'est pas public.",
    "order_not_found": "Aucun vote n'a cette référence.",
    "csrf_title": "Ce formulaire a expiré",
    "csrf_body": "Pour votre sécurité, rechargez la page et votez à nouveau.",
    "rate_title": "Trop de tentatives",
    "rate_body": "Trop de votes ont été envoyés depuis votre connexion. Patientez une minute puis réessayez.",
    "error_title": "Un problème est survenu",
    "error_body": "Un problème est survenu de notre côté. Rien n'a été débité deux fois ; veuillez réessayer.",
    "reload": "Recharger la page",
    "err_candidate": "Choisissez un candidat.",
    "err_quantity": "Indiquez un nombre de votes entre 1 et {max}.",
    "err_provider": "Choisissez un moyen de paiement.",
    "err_msisdn_required": "Indiquez le numéro Mobile Money qui va payer.",
    "err_invalid_msisdn": "Ce numéro de téléphone n'est pas valide.",
    "err_msisdn_blocked": "Ce numéro ne peut pas voter. Contactez l'organisateur si c'est une erreur.",
    "err_msisdn_rate_limited": "Trop de votes depuis ce numéro. Réessayez plus tard.",
    "err_candidate_not_active": "Ce candidat ne peut plus recevoir de votes.",
    "err_provider_unavailable": "Ce moyen de paiement n'est pas disponible pour le moment. Choisissez-en un autre.",
    "err_payment_refused": "Le paiement n'a pas pu démarrer : {reason}",
    "err_payment_unavailable": "Le service de paiement n'a pas répondu. Réessayez dans un instant.",
    "err_contest_not_open": "Les votes ne sont pas ouverts pour ce concours.",
    "err_contest_closed": "Les votes sont clos.",
    "payment_failed": "Le paiement a échoué.",
}

# The provider failure codes of gateway/reasons.py, in French (English comes from the core as is).
FR_REASONS = {
    "APPROVAL_REJECTED": "Le paiement a été refusé sur le téléphone.",
    "EXPIRED": "Le paiement n'a pas été validé à temps.",
    "COULD_NOT_PERFORM_TRANSACTION": "Le paiement n'a pas été validé à temps.",
    "PAYER_NOT_FOUND": "Ce numéro n'a pas de compte Mobile Money.",
    "NOT_ENOUGH_FUNDS": "Le solde du compte était insuffisant.",
    "PAYER_LIMIT_REACHED": "La limite de paiement du compte est atteinte.",
    "INTERNAL_PROCESSING_ERROR": "L'opérateur n'a pas pu traiter le paiement.",
    "CANCELLED": "Le paiement a été annulé sur le téléphone.",
    "FAILED": "Le paiement a échoué.",
}
STRINGS: dict[str, dict[str, str]] = {"en": EN, "fr": FR}
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
}
# Core error codes that share a message with the form's own checks.
CODE_KEYS = {"candidate_not_found": "err_candidate", "invalid_quantity": "err_quantity",
             "provider_not_enabled": "err_provider"}
TRAILING_CODE = re.compile(r"\(([A-Z][A-Z_]+)\)\s*$")


@dataclass(frozen=True)
class Translator:
    """`t("key", name=…)` in one language; a missing key falls back to English, then to the key."""

    lang: str

    def __call__(self, key: str, /, **values: object) -> str:
        text = STRINGS[self.lang].get(key) or EN.get(key) or key
        return text.format(**values) if values else text

    @property
    def other(self) -> str:
        return "en" if self.lang == "fr" else "fr"

    def votes(self, n: int) -> str:
        # French counts 0 and 1 as singular; English only 1.
        one = n <= 1 if self.lang == "fr" else n == 1
        return self("vote_one" if one else "vote_many", n=self.number(n))

    def number(self, n: int) -> str:
        return group_digits(n, "\u202f" if self.lang == "fr" else ",")

    def money(self, amount: int, currency: str) -> str:
        """Minor units as the voter reads them: `1 500 XAF`, `12,50 EUR` / `1,500 XAF`, `12.50 EUR`."""
        digits = self.money_digits(currency)
        whole, cents = divmod(amount, 10**digits) if digits else (amount, 0)
        text = self.number(whole)
        if digits:
            text += ("," if self.lang == "fr" else ".") + f"{cents:0{digits}d}"
        return f"{text}\u00a0{currency.upper()}"

    def money_digits(self, currency: str) -> int:
        try:
            return minor_digits(currency)
        except UnknownCurrency:  # shown as a whole number rather than not at all
            return 0

    def date(self, when: datetime) -> str:
        when = when.astimezone(LOCAL_TIME)
        month = MONTHS[self.lang][when.month - 1]
        if self.lang == "fr":
            return f"{when.day} {month} {when.year} à {when:%H:%M} (WAT)"
        return f"{month} {when.day}, {when.year} at {when:%H:%M} (WAT)"

    def reason(self, reason: str | None) -> str:
        """A failure reason from the core (English, with the provider's code in brackets) for the reader."""
        if not reason:
            return self("payment_failed")
        if self.lang == "en":
            return reason
        match = TRAILING_CODE.search(reason)
        code = match.group(1) if match else reason.strip().upper()
        if code in FR_REASONS:
            return f"{FR_REASONS[code]} ({code})" if match else FR_REASONS[code]
        return f"{self('payment_failed')} ({reason})"

    def js_strings(self) -> dict[str, str]:
        """What the page's script needs to speak the page's language."""
        keys = ("state_connecting", "state_live", "state_reconnecting", "state_polling", "state_static",
                "vote_one", "vote_many", "rank", "total_votes", "new_leader", "sending", "submit",
                "errors_title", "error_body", "total", "follow_order")
        return {key: self(key) for key in keys}


def group_digits(n: int, separator: str) -> str:
    return f"{n:,}".replace(",", separator)


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
    if key in EN:
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
}


def order_words(view: OrderView, tr: Translator, redirects: bool, cancelled: bool = False) -> OrderWords:
    """Pending: what to do now (approve on the phone, or wait for the payment page's answer);
    decided: the outcome, with the provider's reason in the reader's language."""
    order, status = view.order, view.order.status
    values = {"amount": tr.money(order.amount, order.currency), "votes": tr.votes(order.quantity),
              "candidate": view.candidate_name, "phone": mask_phone(order.voter_msisdn)}
    if status is OrderStatus.PENDING:
        key = ("cancelled" if cancelled else "waiting") if redirects else "approve"
        return OrderWords(status.value, False, tr(f"{key}_title"), tr(f"{key}_body", **values), "wait")
    if status is OrderStatus.PAID:
        return OrderWords(status.value, True, tr("paid_title"), tr("paid_body", **values), "ok")
    if status in (OrderStatus.FAILED, OrderStatus.EXPIRED):
        body = f"{tr.reason(order.status_reason)} {tr('not_counted')}"
        return OrderWords(status.value, True, tr(f"{status.value}_title"), body, "bad")
    title, body = SETTLED_WORDS.get(status, ("flagged_title", "flagged_body"))
    return OrderWords(status.value, True, tr(title), tr(body), "info")


def mask_phone(e164: str | None) -> str:
    """Enough of the number to recognise it, not enough to copy it from a shared link."""
    if not e164 or len(e164) < 8:
        return e164 or ""
    return f"{e164[:4]} {'•' * (len(e164) - 7)} {e164[-3:]}"
