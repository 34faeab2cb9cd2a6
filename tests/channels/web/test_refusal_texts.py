"""A candidate reads why their file was refused in their page's language: every sentence the judges write (the
clip rules, the photo re-encoder, the media jobs) is one the page knows, figures and all."""

from __future__ import annotations

import pytest

from channels.web.i18n import Translator
from media.clip_rules import MAX_BYTES, ClipFacts, Unfinished, refusal
from media.cloudinary_notices import NOT_A_PHOTO
from media.photos import NotAnImage, PhotoTooLarge, reencode
from media.processing import UNREADABLE
from media.sweep import UNPREPARED


def written_refusals() -> list[str]:
    clip = ClipFacts(frozenset({"mp4"}), 12.0, ("h264", 640, 360), 1, 1)
    cases = [
        refusal(clip, MAX_BYTES + 3 * 1024 * 1024),
        refusal(None, 1000),
        refusal(ClipFacts(frozenset({"mp4"}), 12.0, None, 0, 1), 1000),
        refusal(ClipFacts(frozenset({"mp4"}), 12.0, ("h264", 640, 360), 2, 1), 1000),
        refusal(ClipFacts(frozenset({"mp4"}), None, ("h264", 640, 360), 1, 1), 1000),
        refusal(ClipFacts(frozenset({"mp4"}), 75.0, ("h264", 640, 360), 1, 1), 1000),
        refusal(ClipFacts(frozenset({"mp4"}), 12.0, ("h264", 20000, 20000), 1, 1), 1000),
        refusal(ClipFacts(frozenset({"mp4"}), 12.0, ("h264", 640, 360), 1, 1, packets_past_limit=True), 1000),
        refusal(Unfinished("mov"), 1000),
        UNREADABLE, UNPREPARED, NOT_A_PHOTO,
    ]
    for photo in (b"not an image", b"\xff" * (6 * 1024 * 1024)):
        with pytest.raises((NotAnImage, PhotoTooLarge)) as refused:
            reencode(photo)
        cases.append(refused.value.message)
    return [case for case in cases if case]


def test_every_refusal_a_candidate_can_get_is_shown_in_french() -> None:
    french = Translator("fr")
    written = written_refusals()
    assert len(written) == 14
    for reason in written:
        assert french.refusal(reason) != reason, reason  # translated, not shown as written


def test_a_refusal_keeps_its_figures_in_the_candidates_language() -> None:
    too_long = "The clip lasts 75 seconds: at most 60."
    assert Translator("fr").refusal(too_long) == "La vidéo dure 75 secondes : 60 au plus."
    assert Translator("en").refusal(too_long) == too_long
    assert Translator("fr").refusal("Something new.") == "Something new."  # unknown: shown as written

