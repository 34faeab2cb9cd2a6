"""A transfer the provider paid for another sum than asked, as its row keeps it (`provider_reason`) and the audit log
and `gateway reconcile money` repeat it: one English line in the provider's own terms, minor units and currency
codes ("the provider refunded 250 XAF, 300 were owed"), a record that never changes with a language or a locale's
digits. A page that shows it to a person reads it back (`read`) and writes the two sums as money in that person's
language; any other reason (a provider's refusal, in its own words) is no such line."""

from __future__ import annotations

import re
from dataclasses import dataclass

LINE = re.compile(r"the provider (?P<done>[a-z]+) (?P<paid>-?[0-9]{1,19}) (?P<currency>[A-Za-z]{3}), "
                  r"(?P<asked>-?[0-9]{1,19}) were (?P<asked_for>[a-z]+)")


@dataclass(frozen=True)
class AmountDiffers:
    done: str  # what the provider did: "refunded", "paid"
    paid: int  # minor units of `currency`
    currency: str  # the currency the provider named (that of the sum asked where it named none)
    asked: int  # minor units of the row's own currency
    asked_for: str  # what was done to the sum asked: "owed", "asked"

    def line(self) -> str:
        return f"the provider {self.done} {self.paid} {self.currency}, {self.asked} were {self.asked_for}"


def read(reason: str | None) -> AmountDiffers | None:
    """The difference a row's reason records, or None for any other reason (or none)."""
    found = LINE.fullmatch(reason or "")
    if found is None:
        return None
    return AmountDiffers(found["done"], int(found["paid"]), found["currency"].upper(), int(found["asked"]),
                         found["asked_for"])
