"""Placeholder: replaced by the module's real routes."""

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add this module's routes (and any cleanup contexts it needs) to the app."""
