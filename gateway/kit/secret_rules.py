"""When a secret setting is unusable: one rule for start-up and for every route that relies on a secret.

Imports nothing of the project, so that every settings model (the channels' too) can use it."""

from __future__ import annotations

from pydantic import SecretStr

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
MIN_SECRET_LENGTH = 32
MIN_CALLBACK_TOKEN_LENGTH = 16  # a USSD callback token guessable in less is no token
MIN_PROVIDER_SECRET_LENGTH = 16  # providers issue their keys: 32 hex (MTN), 16+ (Orange), 100+ (Stripe)
MIN_DISTINCT_CHARACTERS = 10  # "aaaa…" or "abab…" is a placeholder, not a secret


def secret_problem(name: str, secret: SecretStr | str | None, min_length: int = MIN_SECRET_LENGTH) -> str | None:
    """What makes a secret setting unusable, naming it (None: usable). One rule for start-up and for
    every route that relies on a secret, so neither accepts what the other refuses. The message never
    quotes the value."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not value:
        return f"{name} must be set"
    if value == DEV_SECRET_KEY:
        return f"{name} must not be the development default"
    if any(character.isspace() for character in value):
        return f"{name} must not contain whitespace"
    if len(value) < min_length:
        return f"{name} must be at least {min_length} characters"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"{name} must be random: at least {MIN_DISTINCT_CHARACTERS} different characters"
    return None


