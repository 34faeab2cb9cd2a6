"""The admin area's settings, one of the bases of the assembly's `Settings`: the keys that seal each account's
TOTP secret in the database (admin/totp_keys.py), and the Prometheus whose alerts the control room shows."""

from __future__ import annotations

from cryptography.fernet import Fernet
from pydantic import SecretStr, field_validator

from gateway.kit.settings import ConfigError, ServiceSettings, secret_problem

SETTING = "ADMIN_TOTP_KEYS"


class AdminSettings(ServiceSettings):
    # Fernet keys (url-safe base64 of 32 random bytes), comma-separated, newest first: the newest seals, every one
    # opens. Required in production; in development, unset, a key is made once in GATEWAY_DATA_DIR. Read when the
    # admin area is set up (admin/totp_keys.py), not by a validator: pydantic's errors would quote the value.
    admin_totp_keys: SecretStr | None = None
    # The Prometheus that pages (its base URL, e.g. http://prometheus:9090): the control room then shows its alerts,
    # the very ones Alertmanager is sent. Unset (`make run` alone): the room evaluates the same rules itself.
    prometheus_url: str = ""

    @field_validator("prometheus_url")
    @classmethod
    def _prometheus_url_is_http(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"PROMETHEUS_URL must be an http(s) URL (Prometheus' base, e.g. http://prometheus:9090),"
                             f" not {value!r}")
        return value.rstrip("/")

    @property
    def totp_keys_text(self) -> str | None:
        """The keys as set, None when unset or blank."""
        if self.admin_totp_keys is None or not self.admin_totp_keys.get_secret_value().strip():
            return None
        return self.admin_totp_keys.get_secret_value()


def fernet_keys(text: str) -> list[Fernet]:
    """"new,old" as Fernet keys, newest first; ConfigError says which one is unusable, never quoting it."""
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise ConfigError(f"{SETTING} holds no key")
    made = []
    for number, key in enumerate(keys, start=1):
        if problem := secret_problem(f"{SETTING}'s key {number}", key):
            raise ConfigError(problem)
        try:
            made.append(Fernet(key))
        except ValueError:
            raise ConfigError(f"{SETTING}'s key {number} is not a Fernet key (url-safe base64 of 32 random bytes)"
                              ) from None
    return made


def totp_keys_problem(settings: AdminSettings) -> str | None:
    """Production seals the admins' second factors with keys of its own: none set, or one unusable, refuses to
    start."""
    if settings.totp_keys_text is None:
        return (f"{SETTING} must be set (Fernet keys, newest first: the admin accounts' TOTP secrets are sealed "
                "with them in the database)")
    try:
        fernet_keys(settings.totp_keys_text)
    except ConfigError as exc:
        return str(exc)
    return None
