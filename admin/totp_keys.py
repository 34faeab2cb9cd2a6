"""The keys that seal each admin account's TOTP secret in the database (ADMIN_TOTP_KEYS): a base backup or an
archived WAL segment carries only sealed secrets, useless without a key kept apart from them.

Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`) through MultiFernet: the newest key seals, every listed key
opens. A key is rotated by listing the new one first (beside the old), running `gateway admin rotate-totp-key`
(every row sealed again with the new key), then dropping the old one. In development with no key set, one is made
once in the data folder (as the results-signing key is), so the rows sealed yesterday open today."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from admin.settings import SETTING, AdminSettings, fernet_keys
from gateway.kit.kept_file import kept_file
from gateway.kit.settings import ConfigError

DEV_KEY_FILE = "admin-totp-key"


class SealedWithAnotherKey(Exception):
    """A sealed secret none of the listed keys opens (its key was dropped before the rows were sealed again)."""


@dataclass(frozen=True)
class TotpKeys:
    fernet: MultiFernet

    @classmethod
    def of(cls, keys: list[Fernet]) -> TotpKeys:
        return cls(MultiFernet(keys))

    def seal(self, secret: str) -> str:
        return self.fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self.fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SealedWithAnotherKey from None

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the newest key."""
        try:
            return self.fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SealedWithAnotherKey from None


TOTP_KEYS = web.AppKey("admin_totp_keys", TotpKeys)  # set by the area's setup (admin/__init__.py)


def totp_keys(settings: AdminSettings) -> TotpKeys:
    """ADMIN_TOTP_KEYS; production refuses to start without them (assembly.settings). In development, unset, the
    data folder's key (made now if need be); set, that key is still listed last when it exists, so the rows it
    sealed open until they are sealed again with the setting's."""
    listed = settings.totp_keys_text
    if settings.is_production:
        if listed is None:
            raise ConfigError(f"refusing to start in production: {SETTING} must be set")
        return TotpKeys.of(fernet_keys(listed))
    path = Path(settings.gateway_data_dir) / DEV_KEY_FILE
    if listed is None:
        return TotpKeys.of([Fernet(kept_file(path, Fernet.generate_key))])
    kept = [Fernet(path.read_bytes())] if path.exists() else []
    return TotpKeys.of(fernet_keys(listed) + kept)
