"""The entries' tests drive the web app and the media server as `gateway run` wires them: the fixtures
are the media tests' own."""

from __future__ import annotations

from tests.media.conftest import entering, media_job  # noqa: F401
