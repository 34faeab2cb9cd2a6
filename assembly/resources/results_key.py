"""The results-signing key, from RESULTS_SIGNING_KEY; in development, one made once in the data folder."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assembly.settings import ConfigError, Settings
from gateway.core.results.signing import private_key, private_pem
from gateway.kit.kept_file import kept_file

DEV_KEY_FILE = "results-signing-key.pem"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key that signs results sheets; production refuses to start without one (assembly.settings)."""
    if settings.results_signing_key is not None and settings.results_signing_key.get_secret_value().strip():
        return private_key(settings.results_signing_key.get_secret_value())
    if settings.is_production:
        raise ConfigError("refusing to start in production: RESULTS_SIGNING_KEY must be set")
    return development_key(Path(settings.gateway_data_dir) / DEV_KEY_FILE)


def installed_key(settings: Settings) -> Ed25519PrivateKey:
    """This installation's key, never a new one: a signature checked against a key made for the occasion (a command
    run outside the checkout makes one in its own ./var) could only come out bad."""
    if settings.results_signing_key is not None and settings.results_signing_key.get_secret_value().strip():
        return private_key(settings.results_signing_key.get_secret_value())
    path = Path(settings.gateway_data_dir) / DEV_KEY_FILE
    if not path.exists():
        raise ConfigError(f"no results-signing key here (RESULTS_SIGNING_KEY is unset and there is no {path}): "
                          "give the published public key with --key (BASE/.well-known/ballot-results-key)")
    return private_key(path.read_text())


def development_key(path: Path) -> Ed25519PrivateKey:
    """Made on first use, kept (owner-only) so that sheets signed yesterday still verify with today's key."""
    return private_key(kept_file(path, lambda: private_pem(Ed25519PrivateKey.generate())).decode())
