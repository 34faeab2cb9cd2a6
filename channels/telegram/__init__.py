"""The Telegram bot (issue 18)."""
