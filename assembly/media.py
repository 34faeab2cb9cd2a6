"""The media storage these settings name (gateway.core.media_storage), for the web, the jobs and the media
server (`gateway media`) alike."""

from __future__ import annotations

from assembly.settings import Settings
from gateway.core.media_storage import MediaStorage
from media.local_storage import LocalStorage


def local_storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.gateway_data_dir / "media", settings.media_upload_url, settings.media_files_url,
                        settings.secret_key.get_secret_value())


def build_storage(settings: Settings) -> MediaStorage:
    return local_storage(settings)


def media_address(settings: Settings) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(settings.media_upload_url)
    return parts.hostname or "127.0.0.1", parts.port or 8093
