"""An upload's life is tested as the media worker meets it: the media tests' fixtures."""

from __future__ import annotations

from tests.media.conftest import entering, media_job  # noqa: F401
