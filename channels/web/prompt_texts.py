"""What the order page says while a phone prompt waits, by how its provider's payer approves it
(`gateway.core.providers.Approval`: a PIN typed on the prompt, or a prompt that may also wait in the wallet's menu),
the "send it again" button's words, the provider's receipt code, and the JSON API's next step; in the `web` domain."""

from __future__ import annotations

from gateway.core.texts import N_

PROMPT_TEXTS: dict[str, str] = {
    "approve_pin_title": N_("Enter your {provider} PIN on your phone"),
    "approve_pin_body": N_("Enter your {provider} PIN on the prompt that appeared on {phone} to pay {amount} for "
                           "{votes} for {candidate}."),
    "fee_approve_pin_body": N_("Enter your {provider} PIN on the prompt that appeared on {phone} to pay your entry "
                               "fee of {amount}."),
    "prompt_again": N_("Didn't get it? Send again"),
    "prompt_again_sent": N_("A new prompt is on its way to your phone."),
    "prompt_again_still_open": N_("The prompt is still open on your phone: enter your PIN there. If it did not "
                                  "appear, ask again once it has closed, in a minute."),
    # The provider has not said the last prompt is over for sure: nothing was sent.
    "prompt_again_unsure": N_("Your last prompt may still reach your phone: wait for it, or ask again in a minute."),
    "prompt_again_too_soon": N_("Please wait a moment before asking for another prompt."),
    "prompt_again_not_offered": N_("No other prompt can be sent for this vote: vote again if it is not paid."),
    "receipt_code": N_("Receipt code"),
    # The JSON API's next step of a vote (`next.message`), in the client's language.
    "api_next_redirect": N_("Complete the payment on the provider's page."),
    "api_next_pin": N_("Enter your {provider} PIN on the prompt that appeared on your phone to pay {amount} and "
                       "confirm your vote."),
    "api_next_approve": N_("Approve the payment of {amount} on your phone to confirm your vote."),
}
