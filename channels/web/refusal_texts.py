"""Why a candidate's file was refused, in the page's language. The reasons are written once, in English, where
the file is judged (media.clip_rules, the photo re-encoder, the media jobs) and kept as written; a page reads
each known sentence back through the catalog with its figures, and shows one it does not know as it is."""

from __future__ import annotations

import re
from collections.abc import Callable

from gateway.core.texts import N_

# The sentences as the judges write them, their figures as {0}, {1}: each is also its msgid.
REFUSALS = (
    N_("The clip is {0} MB: at most {1} MB."),
    N_("The file is {0} MB: at most {1} MB."),
    N_("The clip lasts {0} seconds: at most {1}."),
    N_("This file is not a video: send an MP4, MOV, WebM or 3GP clip from your phone."),
    N_("This file has no picture: send a video clip."),
    N_("The clip holds more than one picture and one sound track: send the clip as your phone made it."),
    N_("The clip seems cut short (its length cannot be read): send it again."),
    N_("The clip was cut short (its end is missing): send it again."),
    N_("The clip holds more frames than a phone films in a minute: send the clip as your phone made it."),
    N_("The clip's picture size cannot be right: send the clip as your phone made it."),
    N_("The clip could not be read to its end: it may have been cut short. Send it again."),
    N_("This clip could not be prepared: send another one (or the same one again)."),
    N_("This file is not a photo: send a JPEG or PNG picture."),
    N_("The file is not a JPEG, PNG or WebP image."),
    N_("A photo may be at most 5 MB."),
)


def pattern_of(msgid: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{\d\\\}", r"(\\d+)", re.escape(msgid)))


PATTERNS = tuple((pattern_of(msgid), msgid) for msgid in REFUSALS)


def readable_refusal(reason: str, gettext: Callable[[str], str]) -> str:
    for pattern, msgid in PATTERNS:
        if found := pattern.fullmatch(reason.strip()):
            return gettext(msgid).format(*found.groups())
    return reason
