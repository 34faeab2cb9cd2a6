"""What /verify says of a winner's certificate whose QR code was scanned (the `web` domain)."""

from __future__ import annotations

from gateway.core.texts import N_

CERTIFICATE_TEXTS: dict[str, str] = {
    "certificate_title": N_("Is this certificate true?"),
    "certificate_intro": N_("The certificate's QR code names the signed results it was made from and what it states. "
                            "Both are checked here: the results' signature first, then each figure."),
    "certificate_matches": N_("This certificate matches the signed results."),
    "certificate_differs": N_("This certificate does not match the signed results."),
    "certificate_bad_signature": N_("The results kept here no longer match their signature: do not trust them."),
    "certificate_unknown_sheet": N_("No published results match this certificate."),
    "certificate_bad": N_("This certificate's address is damaged: scan its QR code again."),
    "certificate_stated": N_("On the certificate"),
    "certificate_signed": N_("In the signed results"),
    "certificate_place": N_("Place"),
    "certificate_votes": N_("Votes"),
    "certificate_round": N_("Round"),
    "certificate_jury": N_("Jury"),
    "certificate_sheet": N_("Results signed on {date} (sheet {id}, SHA-256 {digest}…)."),
    "certificate_later": N_("Results were signed again on {date}, after a late payment was counted: the latest "
                            "results are the contest's."),
}
