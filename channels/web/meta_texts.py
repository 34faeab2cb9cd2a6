"""What each public page says of itself to a search engine or a link preview (its `<meta name="description">`):
one or two sentences on what the page is for, in the reader's language (the `web` domain)."""

from __future__ import annotations

from gateway.core.texts import N_

META_TEXTS: dict[str, str] = {
    "meta_site": N_("Vote for your favourite in contests, pay by mobile money or card; "
                    "a vote counts only once its payment is confirmed."),
    "meta_enter": N_("Enter {contest} from your phone: send your clip and your details, then follow your entry."),
    "meta_verify": N_("Check with your payment reference that your vote was counted, and find it in the contest's "
                      "signed ledger."),
    "meta_order": N_("Your vote in {contest}: whether its payment is confirmed and the vote counted."),
    "meta_results": N_("The results of {contest}: the final ranking, and the signed ledger that proves every vote."),
}
