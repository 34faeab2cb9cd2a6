"""The benchmarks' harness (bench/harness.py) as a person running `python -m bench.faults` meets it."""

from __future__ import annotations

import pytest

from bench.harness import running_stack


def test_a_stack_that_cannot_start_says_why_before_its_folder_is_removed() -> None:
    """The stack's folder, its log with it, is gone once the run ends: the failure must carry the log's words."""
    with pytest.raises(RuntimeError) as failed, running_stack(extra_env={"GATEWAY_ENV": "production"}):
        pass
    assert "the stack exited" in str(failed.value)
    assert "DATABASE_URL and REDIS_URL must be set in production" in str(failed.value)
