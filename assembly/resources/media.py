"""The media storage these settings name (gateway.core.media_storage), for the web, the jobs and the media
server (`gateway media`) alike."""

from __future__ import annotations

import httpx

from assembly.settings import ConfigError, Settings
from gateway.core.media_storage import MediaStorage
from media.cloudinary import CloudinaryStorage
from media.cloudinary_routes import NOTIFY_PATH
from media.local_storage import LocalStorage


def local_storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.gateway_data_dir / "media", settings.media_upload_url, settings.media_files_url,
                        settings.secret_key.get_secret_value())


def build_storage(settings: Settings, http: httpx.AsyncClient) -> MediaStorage:
    """The storage MEDIA_STORAGE names: the local one, or Cloudinary (its stand-in in development)."""
    if settings.media_storage == "cloudinary":
        account = settings.cloudinary_account()
        if account is None:
            raise ConfigError("MEDIA_STORAGE=cloudinary needs CLOUDINARY_URL")
        api_base, delivery_base = settings.cloudinary_bases()
        notify = settings.public_base_url.rstrip("/") + NOTIFY_PATH
        return CloudinaryStorage(account, http, notify, api_base=api_base, delivery_base=delivery_base)
    return local_storage(settings)


def cloudinary_stand_in_needed(settings: Settings) -> bool:
    return settings.media_storage == "cloudinary" and settings.uses_stand_in


def media_address(settings: Settings) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(settings.media_upload_url)
    return parts.hostname or "127.0.0.1", parts.port or 8093
