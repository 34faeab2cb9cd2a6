"""Where candidates' files are kept (`MEDIA_STORAGE`), and the local storage's own settings."""

from __future__ import annotations

from typing import Literal

from gateway.kit.settings import ServiceSettings

LOCAL_MEDIA_URL = "http://127.0.0.1:8093"  # beside the payment sandbox (8090), AT's fake (8091), the Bot API (8092)


class MediaSettings(ServiceSettings):
    media_storage: Literal["local", "cloudinary"] = "local"
    # Where browsers reach the media server (`gateway media`): its uploads and its files. Behind a proxy in
    # production, e.g. https://media.example.org; both default to the local one `gateway run` starts.
    media_upload_url: str = LOCAL_MEDIA_URL
    media_files_url: str = LOCAL_MEDIA_URL
    # Clips processed at once (one ffmpeg each, one thread each): on 2 cores, one leaves the other to the votes.
    media_workers: int = 1


def media_problems(settings: MediaSettings) -> list[str]:
    """Production serves candidates' uploads and clips over https, from a host browsers can reach."""
    if settings.media_storage != "local":
        return []
    return [f"{name.upper()} must be an https:// address browsers reach (it is {url})"
            for name, url in (("media_upload_url", settings.media_upload_url),
                              ("media_files_url", settings.media_files_url)) if not url.startswith("https://")]
