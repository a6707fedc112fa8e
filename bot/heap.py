"""Keep the garbage collector's full passes off the loaded model: the heap is settled once it is loaded.

A loaded engine holds over half a million long-lived Python objects (TensorFlow's graph, Rasa's domain and
policies, the modules). CPython's full collection walks all of them, which took 260–430 ms per pass in a
worker at 100 msgs/s, a pause every customer in flight waits through (bench/RESULTS.md, issue 17).
`gc.freeze` moves what is alive into a generation the collector never walks. Frozen objects still free
when their references go; only a cycle among them would outlive its use until the next settle, which
unfreezes first (several engines started in one process, as in the tests, leave nothing behind for long).
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def settle() -> float:
    """Collect what start-up left behind, then freeze the survivors; return the seconds it took."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    took = time.perf_counter() - started
    log.info("heap settled", extra={"frozen": gc.get_freeze_count(), "seconds": round(took, 3)})
    return took
