"""A process sharing its figures as a web process of `gateway run` does (prometheus_client's multiprocess mode), the
loop watch's GC callback in place, whose every allocation may start a collection: its requests' figures are made
(each route's new labelled child, under the library's one global, non-reentrant lock) while collections run. It
prints "imported" once ready, then the GC pauses recorded in the shared files; a callback that took the lock inside
such a collection would leave it waiting for ever, and it would print nothing more."""

import gc
import os
import sys

os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]  # before prometheus_client is imported, as `gateway run` does

from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

from assembly.web.loop_watch import LoopWatch  # noqa: E402
from assembly.web.metrics import Metrics  # noqa: E402

print("imported", flush=True)
metrics = Metrics()
watch = LoopWatch(metrics.registry)
gc.callbacks.append(watch.on_gc)
gc.set_threshold(1)  # a collection at (almost) every allocation: one starts inside the library's lock
for route in range(200):
    metrics.observe_request("GET", f"/route/{route}", 200, 0.01)
gc.set_threshold(700)
gc.callbacks.remove(watch.on_gc)
watch.record_gc_pauses()  # the loop's next tick
pauses = sum(sample.value for family in MultiProcessCollector(None, sys.argv[1]).collect()  # type: ignore[no-untyped-call]
             for sample in family.samples if sample.name == "gateway_gc_pause_seconds_count")
print(f"pauses {pauses:.0f}", flush=True)
