"""Stars payments the bot's webhook missed, found in getStarTransactions (newest first, ListingRead checks) and
settled once each; the worker runs a pass every minute (`payments.stars.provider.missed_payments`)."""

from __future__ import annotations

import logging
from typing import Any

from gateway.core.money_in import in_chat
from gateway.core.providers import PaymentError
from gateway.kit.job_resources import JobResources
from payments.stars import StarsInvoices
from payments.stars.listing import PAGE_SIZE as STARS_PAGE_SIZE
from payments.stars.listing import ListingRead
from payments.stars.listing import incoming_payment as incoming_stars_payment

log = logging.getLogger(__name__)

STARS_SEEN_KEY = "telegram:stars:seen-until"  # Unix time of the newest transaction a whole pass read
STARS_OVERLAP_SECONDS = 600  # read back this far past it (clocks, one second's transactions): settling is idempotent
STARS_PAGES_PER_PASS = 10


async def stars_check_pass(ctx: JobResources[Any], stars: StarsInvoices) -> int:
    """Settle every Stars payment listed since the last whole pass (idempotent: one already counted is left as
    it is); how many counted. Telegram lists the newest first, so each pass reads from the top down to where
    the last one began; only a pass that read every transaction since then moves that mark on. Should the
    dates ever go up (the list oldest first), only the end of the list makes a pass whole (ListingRead)."""
    seen = await ctx.redis.get(STARS_SEEN_KEY)
    back_to = int(seen) - STARS_OVERLAP_SECONDS if seen else None
    read = ListingRead(frozenset(), back_to or 0)
    listed: list[dict[str, Any]] = []
    for page_number in range(STARS_PAGES_PER_PASS):
        try:
            page = await stars.transaction_page(page_number * STARS_PAGE_SIZE)
        except PaymentError as exc:  # Telegram away: the next pass (a minute on) reads again from the top
            log.warning("stars check: %s", exc.message)
            return await stars_counted(ctx, await settle_listed_stars(ctx, listed, read.refunded))
        read.take(page)
        listed += [t for t in page if back_to is None or int(t.get("date") or 0) >= back_to]
        if read.back_to_since:
            break
    counted = await settle_listed_stars(ctx, listed, read.refunded)
    if read.back_to_since or (back_to is None and read.newest_first):
        # The first pass ever reads its pages only: payments older than those are long settled.
        newest = max((int(t.get("date") or 0) for t in listed), default=0)
        if newest:
            await ctx.redis.set(STARS_SEEN_KEY, max(newest, int(seen or 0)))
    else:  # a burst, or a list oldest first: the next pass reads from the top again, to the same mark
        log.warning("stars check: stopped after %d pages before the last pass's mark%s", STARS_PAGES_PER_PASS,
                    "" if read.newest_first else " (Telegram listed the oldest first)")
    return await stars_counted(ctx, counted)


async def stars_counted(ctx: JobResources[Any], counted: int) -> int:
    if counted:
        log.info("stars check: %d missed payments counted", counted)
        await ctx.relay_now()
    return counted


async def settle_listed_stars(ctx: JobResources[Any], transactions: list[dict[str, Any]], refunded: set[str]) -> int:
    """Settle the incoming payments among `transactions` once each; how many of them this counted. A payment
    whose refund is listed too was given back already: counting it would send a receipt for votes that the
    verification pass then takes back off."""
    counted = 0
    for transaction in transactions:
        if (payment := incoming_stars_payment(transaction)) is not None and payment.charge_id not in refunded:
            outcome, _ = await in_chat.settle_chat_payment(ctx.sessions, ctx.providers, "stars", in_chat.ChatPayment(
                payment.payload, payment.charge_id, payment.amount, "XTR"))
            counted += outcome is in_chat.ChatPaymentOutcome.COUNTED
    return counted
