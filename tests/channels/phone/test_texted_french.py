"""One rule for accents in texted French (SMS, USSD, the candidates' texts): GSM-7's accented letters are kept
(é è à ù É), every other one is written plain (ê -> e, â -> a, ô -> o, î -> i, û -> u, ç -> c, À -> A): one
character outside GSM-7 turns a message into UCS-2 and halves what it carries. Web and Telegram French keep
every accent."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from channels.phone.gsm7 import is_gsm7, texted
from channels.phone.texts import CATALOGS as PHONE
from channels.sms.texts import CATALOGS as SMS
from channels.sms.texts import readable
from channels.ussd.texts import CATALOGS as USSD
from channels.web.i18n import CATALOGS as WEB
from gateway.core.entries.entry_texts import approved_text, code_text, rejected_text
from gateway.core.money_in.reasons import READABLE
from gateway.core.texts import Lang, TextDomain

TEXTED_CONTEXTS = {"sms", "ussd", "phone"}  # the phone domains' other contexts are the admin's and the web's
# French words that take a GSM-7 accent, as they were written before the rule: none may come back plain.
PLAIN_FORMS = re.compile(r"\b(numero|telephone|resultats?|reessayez|echoue|reseau|momentanement|remboursee?|"
                         r"participer a|candidature a|correspond a|jusqu'a)\b", re.IGNORECASE)


def french_msgstrs(domain: TextDomain, contexts: set[str] | None = None) -> list[str]:
    with domain.catalog(Lang.FR).open("rb") as source:
        messages = [m for m in read_po(source) if m.id and (contexts is None or m.context in contexts)]
    return [text for m in messages for text in (m.string if isinstance(m.string, tuple) else (m.string,))]


def candidates_texts() -> list[str]:
    """The core's texts a candidate gets by SMS, as sent, and the refusal reasons an SMS receipt quotes."""
    return [code_text("fr", "123456", "Gala"), approved_text("fr", "Gala", "07", "https://x.example/c/gala/07"),
            approved_text("fr", "Gala", "07", "https://x.example/c/gala/07", live=False),
            rejected_text("fr", "Gala", "photo floue"), *(readable(Lang.FR, code) for code in READABLE)]


@pytest.mark.parametrize("text", [*(text for domain in (SMS, USSD, PHONE)
                                    for text in french_msgstrs(domain, TEXTED_CONTEXTS)), *candidates_texts()])
def test_every_texted_french_text_is_gsm7_with_gsm7_accents_only(text: str) -> None:
    assert is_gsm7(text) and texted(text) == text, text
    assert not PLAIN_FORMS.search(text), f"written plain where GSM-7 has the accent: {text}"


def test_the_approval_text_keeps_gsm7_accents_and_writes_the_others_plain() -> None:
    assert approved_text("fr", "Gala", "07", "https://x.example/c/gala/07") == (
        "Votre candidature à Gala est acceptée : vous etes le candidat 07. Partagez votre page : "
        "https://x.example/c/gala/07")


def test_texting_a_catalog_text_keeps_gsm7_accents_and_writes_the_others_plain() -> None:
    written = "À bientôt, ça a été reçu là-bas où Ève s'arrête."
    assert texted(written) == "A bientot, ca a été recu là-bas où Eve s'arrete."


def test_web_french_keeps_every_accent() -> None:
    web = " ".join(french_msgstrs(WEB))
    assert "Numéro de mobile" in web and re.search("[êôç]", web)
