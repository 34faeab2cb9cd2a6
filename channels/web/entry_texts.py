"""The entry pages' texts (the `web` domain, as every public page's): a candidate enters from a phone."""

from __future__ import annotations

from channels.web.number_proof_texts import PROOF_ERRORS
from gateway.core.texts import N_

ENTRY_TEXTS: dict[str, str] = {
    "enter_title": N_("Enter {contest}"),
    "enter_dates": N_("Entries are open until {date}."),
    "enter_closed": N_("Entries are not open for this contest."),
    "enter_full": N_("This contest has all the entries it takes."),
    "enter_rules": N_("The rules"),
    "enter_needs_js": N_("Entering sends your clip in small parts, so a dropped connection loses nothing: "
                         "it needs JavaScript. Turn it on, or use your phone's own browser."),
    "enter_step_phone": N_("1. Your phone number"),
    "enter_phone": N_("Mobile number"),
    "enter_phone_hint": N_("We text you a code to prove it is yours; it is how the organiser reaches you."),
    "enter_send_code": N_("Text me a code"),
    "enter_preparing_code": N_("Preparing your code: a few seconds…"),
    "enter_code": N_("The code we texted you"),
    "enter_check_code": N_("Check the code"),
    "enter_step_entry": N_("2. Your entry"),
    "enter_name": N_("Your name (as viewers will see it)"),
    "enter_bio": N_("A few words about you"),
    "enter_photo": N_("Your photo (optional; JPEG, PNG or WebP, at most 5 MB)"),
    "enter_clip": N_("Your clip (at most 60 seconds and 50 MB)"),
    "enter_accept": N_("I accept the rules of the contest"),
    "enter_submit": N_("Send my entry"),
    "enter_uploading": N_("Sending your clip: {percent}%"),
    "enter_retrying": N_("Connection lost; trying again…"),
    "enter_sent": N_("Your entry is sent. Keep this page's address to follow it."),
    "entry_title": N_("Your entry to {contest}"),
    "entry_pending": N_("Your entry waits for the organiser's decision."),
    "entry_approved": N_("Your entry is approved: you are candidate {code}."),
    "entry_rejected": N_("Your entry was not accepted: {reason}"),
    "entry_see_page": N_("See your candidate page"),
    "clip_processing": N_("Your clip is being prepared; this page refreshes itself."),
    "clip_refused": N_("Your clip cannot enter: {reason}"),
    "clip_ready": N_("Your clip is ready."),
    "entry_replace": N_("Replace my clip"),
    "entry_fee_due": N_("To enter, pay the entry fee of {amount}. The organiser decides on paid entries only."),
    "entry_fee_paid": N_("Your entry fee of {amount} is paid."),
    "entry_fee_waiting": N_("A payment of your entry fee is under way."),
    "entry_fee_follow": N_("Follow the payment"),
    "entry_fee_pay": N_("Pay the entry fee"),
    "entry_fee_payer": N_("The number that pays by mobile money (empty: the one you entered with)"),
    "fee_approve_body": N_("Approve the payment of {amount} on {phone} to pay your entry fee. If no prompt appears, "
                           "open your mobile money menu to approve the pending payment."),
    "fee_waiting_body": N_("We are waiting for the confirmation of your entry fee's payment of {amount}."),
    "fee_cancelled_body": N_("You left the payment page: your entry fee is paid only if the payment is completed."),
    "fee_paid_title": N_("Thank you! Your entry fee is paid."),
    "fee_paid_body": N_("We received {amount}. Your entry waits for the organiser's decision."),
    "fee_not_paid": N_("Your entry fee is not paid."),
    "field_entry_fee": N_("Entry fee"),
    "err_fee_paid": N_("Your entry fee is paid already."),
    "err_fee_payment_waiting": N_("A payment of your entry fee is under way: approve it, or wait until it expires "
                                  "to pay another way."),
    "err_no_entry_fee": N_("Entering this contest is free."),
    "err_entry_decided": N_("The organiser has decided on this entry already."),
    "fee_back_to_entry": N_("Follow your entry from its own page, at the address you kept when you entered."),
    "entry_keep_link": N_("Keep this page's address: it is the only way back to your entry."),
    "refused_too_many_uploads": N_("Too many files were sent from this number today; try again tomorrow."),
    "refused_unknown_upload": N_("That file cannot be used; send it again."),
    "refused_file": N_("That file was refused; send another."),
    "refused_upload_unfinished": N_("The file has not arrived yet; let it finish sending."),
    "refused_rules": N_("Accept the contest's rules to enter."),
    "refused_entry_exists": N_("This number has an entry in this contest already."),
    "refused_entry_not_found": N_("No entry at this link."),
    "refused_file_too_large": N_("This file is too large; send a smaller one."),
    "refused_send_again": N_("The file could not be sent; send it again."),
    "refused_empty_file": N_("This file is empty; choose one your phone holds."),
    "refused_form": N_("Something in the form is not right; check it and try again."),
}

# The entry API's error codes (gateway.core.entries; the media server's for a file) and the text each is told by.
ENTRY_ERRORS: dict[str, str] = PROOF_ERRORS | {
    "entries_closed": "enter_closed", "no_entries": "enter_closed", "entries_full": "enter_full",
    "too_many_uploads": "refused_too_many_uploads", "unknown_upload": "refused_unknown_upload",
    "upload_refused": "refused_file", "upload_unfinished": "refused_upload_unfinished",
    "rules_not_accepted": "refused_rules", "entry_exists": "refused_entry_exists",
    "entry_decided": "err_entry_decided", "entry_not_found": "refused_entry_not_found",
    # The media server's, for a file on its way (media/upload_server.py).
    "too_large": "refused_file_too_large", "empty_file": "refused_empty_file",
    "bad_grant": "refused_send_again", "past_length": "refused_send_again",
    "other_length": "refused_send_again", "wrong_offset": "refused_send_again",
    "invalid_request": "refused_form", "invalid_field": "refused_form", "invalid_json": "refused_form",
}
