"""The broadcast overlay's texts (the `web` domain, as every public page's): what a TV picture says over the show."""

from __future__ import annotations

from gateway.core.texts import N_

OVERLAY_TEXTS: dict[str, str] = {
    # Translators: the overlay's words while a sealed contest takes votes; no count or ranking is shown.
    "overlay_sealed_open": N_("Voting open — results at the close"),
    "overlay_sealed": N_("Results at the close"),
    "overlay_scan": N_("Scan to vote"),
    # Translators: stands for a candidate's code in the overlay's lines on how to vote ("Text VOTE [code] to 20123").
    "overlay_code": N_("code"),
    # Translators: a candidate's share of the votes, e.g. "42.5%" (French: "42,5 %").
    "overlay_share": N_("{share}%"),
    # Translators: how a contest decided by the public and a jury counts, e.g. "Result: 50% public + 50% jury".
    "overlay_formula": N_("Result: {public}% public + {jury}% jury"),
    # Translators: a candidate's two parts once the jury is revealed, e.g. "Public 42.5% · Jury 30.0%".
    "overlay_parts": N_("Public {public} · Jury {jury}"),
    # Translators: the jury's part alone, where the organiser hides the public's counts, e.g. "Jury 30.0%".
    "overlay_jury_part": N_("Jury {jury}"),
    # Translators: the producer's countdown to the close of the lines, on the overlay and the pages: "0:59".
    "lines_countdown": N_("Lines close in {time}"),
    "lines_closed": N_("Lines are closed"),
}
