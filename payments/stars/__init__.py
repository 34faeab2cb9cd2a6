"""Telegram Stars: votes paid in the chat (issue 18)."""
