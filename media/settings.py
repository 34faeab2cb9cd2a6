"""Cloudinary's settings (`media.cloudinary`): one `CLOUDINARY_URL` as Cloudinary's own SDKs read it, and where its
APIs and files are reached. Development without credentials talks to the local stand-in
(`python -m media.cloudinary_stand_in`), which knows the development account below."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr, field_validator

from gateway.kit.settings import ServiceSettings

# The development account the stand-in checks signatures with (never a real one: it is in the source).
DEV_CLOUDINARY_URL = "cloudinary://dev-api-key:dev-api-secret-for-the-stand-in-0123@ballot-dev"


@dataclass(frozen=True)
class CloudinaryAccount:
    cloud_name: str
    api_key: str
    api_secret: str


def parse_cloudinary_url(url: str) -> CloudinaryAccount:
    """`cloudinary://<api_key>:<api_secret>@<cloud_name>`, as Cloudinary's SDKs read CLOUDINARY_URL; ValueError
    says which part is missing (a typo stops start-up rather than signing with half a key)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "cloudinary":
        raise ValueError("CLOUDINARY_URL must start with cloudinary://")
    if not (parts.username and parts.password and parts.hostname):
        raise ValueError("CLOUDINARY_URL must be cloudinary://<api_key>:<api_secret>@<cloud_name>")
    # hostname is lower-cased by urlsplit; the cloud name is kept as written.
    cloud = parts.netloc.rpartition("@")[2]
    return CloudinaryAccount(cloud, unquote(parts.username), unquote(parts.password))


class CloudinarySettings(ServiceSettings):
    cloudinary_url: SecretStr | None = None
    # Upload and Admin APIs; unset in development without CLOUDINARY_URL: the stand-in.
    cloudinary_api_base: str = "https://api.cloudinary.com"
    cloudinary_delivery_base: str = "https://res.cloudinary.com"
    # The local stand-in (`python -m media.cloudinary_stand_in`) that development without an account talks to,
    # beside the media server (8093); `gateway run` starts it there.
    cloudinary_stand_in_url: str = "http://127.0.0.1:8094"

    @field_validator("cloudinary_url")
    @classmethod
    def _url_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_cloudinary_url(value.get_secret_value())
        return value

    @property
    def uses_stand_in(self) -> bool:
        """Development with no account of its own talks to the stand-in (production never does)."""
        return self.cloudinary_url is None and self.sandbox_enabled and not self.is_production

    def cloudinary_account(self) -> CloudinaryAccount | None:
        if self.cloudinary_url is not None:
            return parse_cloudinary_url(self.cloudinary_url.get_secret_value())
        return parse_cloudinary_url(DEV_CLOUDINARY_URL) if self.uses_stand_in else None

    def cloudinary_bases(self) -> tuple[str, str]:
        """Where the APIs are and where files are delivered: the stand-in serves both in development."""
        if self.uses_stand_in:
            return self.cloudinary_stand_in_url, self.cloudinary_stand_in_url
        return self.cloudinary_api_base.rstrip("/"), self.cloudinary_delivery_base.rstrip("/")


def cloudinary_problems(settings: CloudinarySettings) -> list[str]:
    """What stops production using Cloudinary: no account, or addresses browsers would fetch over http."""
    problems = [] if settings.cloudinary_url else ["CLOUDINARY_URL is unset"]
    problems += [f"{name} must be an https:// address (it is {url})" for name, url in (
        ("CLOUDINARY_API_BASE", settings.cloudinary_api_base),
        ("CLOUDINARY_DELIVERY_BASE", settings.cloudinary_delivery_base)) if not url.startswith("https://")]
    return problems
