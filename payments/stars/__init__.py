"""Telegram Stars: votes sold in the bot, paid in the chat (issue 18)."""

from payments.stars.invoice import StarPayment, StarsInvoices

__all__ = ["StarPayment", "StarsInvoices"]
