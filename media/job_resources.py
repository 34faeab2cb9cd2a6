"""What the media jobs use of the worker's job context (assembly.worker.job_runtime.JobContext provides it): media
stands below the assembly and never imports it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gateway.core.media_storage import MediaStorage
from gateway.core.phone_texts import PhoneTexter
from gateway.db.engine import Sessions
from gateway.kit.settings import ServiceSettings


class MediaJobResources(Protocol):
    @property
    def settings(self) -> ServiceSettings: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def media(self) -> MediaStorage | None:
        """The storage of candidates' files (None in a worker built without one)."""
        ...

    @property
    def texters(self) -> Mapping[str, PhoneTexter]:
        """By channel: what texts any number."""
        ...


def storage_of(ctx: MediaJobResources) -> MediaStorage:
    if ctx.media is None:
        raise RuntimeError("this worker has no media storage")
    return ctx.media
