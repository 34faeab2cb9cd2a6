"""The `gateway` program imports its command's code with Python's collector held (gateway/kit/collector_held.py):
none of the collections that walked the growing heap at every few hundred new objects runs meanwhile, the garbage the
imports left is collected once after, what lives on is kept out of later collections, and the collector runs again
for the process's life. Each case runs in an interpreter of its own: a freeze lasts as long as its process."""

from __future__ import annotations

import subprocess
import sys

import pytest

FROM_HERE = "import gc, weakref\nfrom gateway.kit.collector_held import collector_held\n"


def probe(code: str) -> str:
    ran = subprocess.run([sys.executable, "-c", FROM_HERE + code], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


def test_inside_nothing_is_collected_after_the_garbage_goes_what_lives_on_is_frozen_and_the_collector_runs() -> None:
    said = probe("""
class Node:
    pass

def cycle():
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)

collections = sum(generation["collections"] for generation in gc.get_stats())
with collector_held():
    kept = [[n] for n in range(200_000)]  # as many new containers as a start's imports make, and more
    garbage = cycle()
    inside = sum(generation["collections"] for generation in gc.get_stats()) - collections
    alive_inside = garbage() is not None
print(inside, alive_inside, garbage() is None, gc.get_freeze_count() >= len(kept), gc.isenabled())
""")
    assert said == "0 True True True True"


@pytest.mark.parametrize("outside", ["gc.disable()", "ctx = collector_held(); ctx.__enter__()"])
def test_where_the_collector_was_off_it_is_left_off(outside: str) -> None:
    """Within another `collector_held`, or in a process that turned its collector off, the caller decides."""
    said = probe(f"{outside}\nwith collector_held():\n    pass\nprint(gc.isenabled(), gc.get_freeze_count())")
    assert said == "False 0"


def test_code_a_serving_process_imports_is_held_without_a_freeze_of_its_own() -> None:
    """A web process's bot (aiogram, at its first update): no collection meanwhile, nothing frozen by the hold, and
    the collector on again to collect what the import left."""
    said = probe("""
collections = sum(generation["collections"] for generation in gc.get_stats())
with collector_held(freeze=False):
    kept = [[n] for n in range(200_000)]
    inside = sum(generation["collections"] for generation in gc.get_stats()) - collections
print(inside, gc.get_freeze_count(), gc.isenabled())
""")
    assert said == "0 0 True"
