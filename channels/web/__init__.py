"""The web channel: the public JSON API (and, later, the public pages)."""
