"""Telegram Stars: votes sold in the bot, paid in the chat."""

from payments.stars.invoice import StarsInvoices
from payments.stars.listing import StarPayment

__all__ = ["StarPayment", "StarsInvoices"]
