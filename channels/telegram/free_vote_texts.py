"""The bot's words for a free vote (channels.telegram.free_votes), from the `telegram` domain of its catalogs."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from channels.telegram.texts import CATALOGS
from gateway.core.texts import Lang


@dataclass(frozen=True)
class FreeTexts:
    none: str
    ask_number: str  # {contest}
    too_many_codes: str
    code_sent: str  # {number}
    wrong_code: str
    ask_candidate: str
    taken: str  # {code} {name} {left}
    used_today: str
    used_round: str


@functools.cache
def free_texts(lang: Lang) -> FreeTexts:
    t = CATALOGS.translations(lang)
    return FreeTexts(
        none=t.pgettext("telegram", "No contest gives free votes right now."),
        ask_number=t.pgettext("telegram", "A free vote in {contest}: share your phone number (or type it), and we "
                                          "will text you a code to prove it is yours."),
        too_many_codes=t.pgettext("telegram", "Too many codes were asked for this number; wait a minute and send "
                                              "/free again."),
        code_sent=t.pgettext("telegram", "We texted a code to {number}. Send it here."),
        wrong_code=t.pgettext("telegram", "That is not the code we texted (or it expired). Send it again, or /free "
                                          "for a new one."),
        ask_candidate=t.pgettext("telegram", "Your number is proven. Send the code of your candidate (e.g. 07)."),
        taken=t.pgettext("telegram", "Your free vote for {code} {name} is counted. Free votes left: {left}."),
        used_today=t.pgettext("telegram", "This number has taken its free votes for today. Come back tomorrow, or "
                                          "vote with /start."),
        used_round=t.pgettext("telegram", "This number has taken its free votes for this round. You can still vote "
                                          "with /start."),
    )
