"""Voter channels: USSD, SMS, Telegram and the web. Each turns input into calls of the vote core."""
