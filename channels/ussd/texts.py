"""Every word the USSD menu says, in French and English. Plain ASCII on purpose: each string must
stay GSM-7 (see channels/phone/gsm7.py), so French is written without accents, as USSD menus usually are."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Lang(StrEnum):
    FR = "fr"
    EN = "en"

    @classmethod
    def parse(cls, value: str | None) -> Lang | None:
        try:
            return cls(value) if value else None
        except ValueError:
            return None


PROVIDER_LABELS = {"mtn": "MTN MoMo", "orange": "Orange Money"}


@dataclass(frozen=True)
class Texts:
    """One language's strings; `{…}` fields are filled by screens.py."""

    home: tuple[str, ...]
    choose_contest: str
    enter_code: str
    more: str
    back: str
    back_home: str
    quantity: str  # {maximum}
    price: str
    pay_with: str  # {quantity} {total}
    your_network: str
    summary: str
    summary_line: str  # {quantity} {code} {name}
    total: str
    payment: str
    confirm: str
    top_title: str
    top_empty: str
    top_hidden: str
    mine_title: str  # {paid}
    mine_pending: str  # {pending}
    mine_empty: str
    statuses: dict[str, str]
    language_title: str
    # Reasons for re-asking (one line, at most 31 characters with their values).
    invalid_choice: str
    empty: str
    not_a_code: str
    unknown_code: str
    eliminated: str
    not_a_number: str
    too_few: str
    too_many: str
    no_more: str
    # Endings.
    placed: str  # {total} {provider} {quantity} {ref}
    too_many_errors: str  # {service_code}
    no_payment: str
    closed: str  # {contest}
    paused: str
    not_open: str
    blocked: str
    rate_limited: str
    candidate_gone: str
    provider_down: str
    cannot_pay: str
    refused: str
    unavailable: str


FRENCH = Texts(
    home=("1 Voter", "2 Top 5", "3 Mes votes", "4 Langue/Language"),
    choose_contest="Choisissez un concours:",
    enter_code="Entrez le code du candidat:",
    more="98 Suite",
    back="0 Retour",
    back_home="0 Retour 00 Accueil",
    quantity="Nombre de votes (1-{maximum}) ?",
    price="Prix: {price}/vote",
    pay_with="{quantity} vote(s) = {total}\nPayer avec:",
    your_network=" (votre reseau)",
    summary="Confirmez votre vote:",
    summary_line="{quantity} vote(s) pour {code} {name}",
    total="Total: {total}",
    payment="Paiement: {provider}",
    confirm="1 Confirmer",
    top_title="Top 5 - {contest}",
    top_empty="Pas encore de votes.",
    top_hidden="Classement masque jusqu'aux resultats.",
    mine_title="Mes votes: {paid} compte(s)",
    mine_pending="{pending} paiement(s) en attente",
    mine_empty="Aucun vote depuis ce numero.",
    statuses={"paid": "compte", "pending": "en attente", "failed": "echoue", "expired": "expire",
              "flagged": "en revue", "refund_requested": "rembourse", "refunded": "rembourse"},
    language_title="Langue / Language:",
    invalid_choice="Choix invalide.",
    empty="Vous n'avez rien saisi.",
    not_a_code="Tapez le code en chiffres.",
    unknown_code="Code {code} inconnu.",
    eliminated="{code} n'est plus en lice.",
    not_a_number="Tapez un nombre.",
    too_few="Minimum 1 vote.",
    too_many="Maximum {maximum} votes.",
    no_more="Pas d'autre page.",
    placed="Merci! Validez le paiement de {total} sur votre telephone ({provider}) pour compter vos "
           "{quantity} vote(s). Ref {ref}",
    too_many_errors="Trop d'erreurs. Recomposez {service_code} pour reessayer. A bientot!",
    no_payment="Le paiement mobile n'est pas disponible pour ce concours.",
    closed="Les votes pour {contest} sont clos. Merci!",
    paused="Les votes pour {contest} sont suspendus. Reessayez plus tard.",
    not_open="Les votes pour {contest} ne sont pas encore ouverts.",
    blocked="Ce numero ne peut pas voter. Contactez l'organisateur si c'est une erreur.",
    rate_limited="Limite de votes atteinte pour ce numero. Reessayez plus tard.",
    candidate_gone="Ce candidat ne peut plus recevoir de votes.",
    provider_down="Ce moyen de paiement est indisponible. Reessayez plus tard.",
    cannot_pay="Ce numero ne peut pas payer par mobile money.",
    refused="Vote impossible pour le moment. Reessayez plus tard.",
    unavailable="Service momentanement indisponible. Reessayez dans un instant.",
)

ENGLISH = Texts(
    home=("1 Vote", "2 Top 5", "3 My votes", "4 Language/Langue"),
    choose_contest="Choose a contest:",
    enter_code="Enter the candidate code:",
    more="98 More",
    back="0 Back",
    back_home="0 Back 00 Home",
    quantity="How many votes (1-{maximum})?",
    price="Price: {price}/vote",
    pay_with="{quantity} vote(s) = {total}\nPay with:",
    your_network=" (your network)",
    summary="Confirm your vote:",
    summary_line="{quantity} vote(s) for {code} {name}",
    total="Total: {total}",
    payment="Payment: {provider}",
    confirm="1 Confirm",
    top_title="Top 5 - {contest}",
    top_empty="No votes yet.",
    top_hidden="Board hidden until the results.",
    mine_title="My votes: {paid} counted",
    mine_pending="{pending} payment(s) pending",
    mine_empty="No votes from this number yet.",
    statuses={"paid": "counted", "pending": "pending", "failed": "failed", "expired": "expired",
              "flagged": "in review", "refund_requested": "refunded", "refunded": "refunded"},
    language_title="Language / Langue:",
    invalid_choice="Invalid choice.",
    empty="You entered nothing.",
    not_a_code="Type the code in digits.",
    unknown_code="Unknown code {code}.",
    eliminated="{code} is out of the contest.",
    not_a_number="Type a number.",
    too_few="At least 1 vote.",
    too_many="At most {maximum} votes.",
    no_more="No more pages.",
    placed="Thank you! Approve the payment of {total} on your phone ({provider}) to count your "
           "{quantity} vote(s). Ref {ref}",
    too_many_errors="Too many wrong answers. Dial {service_code} again to retry. Goodbye!",
    no_payment="Mobile money payment is not available for this contest.",
    closed="Voting for {contest} has closed. Thank you!",
    paused="Voting for {contest} is paused. Please try again later.",
    not_open="Voting for {contest} has not opened yet.",
    blocked="This number cannot vote. Contact the organiser if this is a mistake.",
    rate_limited="Vote limit reached for this number. Please try again later.",
    candidate_gone="This candidate can no longer receive votes.",
    provider_down="This payment method is unavailable. Please try again later.",
    cannot_pay="This number cannot pay by mobile money.",
    refused="Your vote cannot be placed right now. Please try again later.",
    unavailable="Service temporarily unavailable. Please try again shortly.",
)

TEXTS = {Lang.FR: FRENCH, Lang.EN: ENGLISH}
LANGUAGE_OPTIONS = (("1", Lang.FR, "1 Francais"), ("2", Lang.EN, "2 English"))
# Before a contest is known (an unknown code), both languages at once.
UNKNOWN_SERVICE = "Ce code ne correspond a aucun vote. / This code matches no vote."


def texts(lang: Lang) -> Texts:
    return TEXTS[lang]
