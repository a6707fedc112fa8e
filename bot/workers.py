"""Several engine processes on one port (``WORKERS``): one supervisor starts them, restarts, and stops them.

One engine process runs its dialogue turns on one core (Python's event loop), so a host serves more
customers with one process per core. Each worker is a whole engine (`python -m bot serve`) on the shared
Redis, as separate instances are: per-conversation order across them is kept by the intake's
per-conversation stream, lease and dialogue lock, which the two-instance tests cover. The workers bind the
same port with SO_REUSEPORT and the kernel spreads connections over them. Without ``REDIS_URL`` the
supervisor starts the embedded Redis and hands its URL to every worker.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from bot.settings import Settings
from core.redis import EmbeddedRedis

log = logging.getLogger(__name__)

WORKER_ENV = "ENGINE_WORKER"  # set in a worker: bind with SO_REUSEPORT, never supervise
RESTART_PAUSE_SECONDS = 1.0
STOP_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


def is_worker() -> bool:
    """Whether this process is a worker started by the supervisor."""
    return os.environ.get(WORKER_ENV) == "1"


def _die_with_parent() -> None:
    # A worker outliving a SIGKILLed supervisor would keep serving unsupervised: Linux sends it SIGTERM.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(settings: Settings, redis_url: str, index: int, count: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        WORKER_ENV: "1",
        "WORKERS": "1",
        "REDIS_URL": redis_url,
        "HOST": settings.host,
        "PORT": str(settings.port),
        "INSTANCE_ID": f"{settings.instance_id}-w{index}",
    }
    # TensorFlow sizes its thread pools to every core in each worker: with a worker per core that is
    # cores x cores threads spinning for one small model. Each worker gets its share (+5-9 % msgs per
    # CPU-second with 2 workers in one A/B, within run-to-run noise), unless the operator chose otherwise.
    share = str(max(1, len(os.sched_getaffinity(0)) // count))
    for variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        env.setdefault(variable, share)
    command = [sys.executable, "-m", "bot", "serve", "--no-train"]
    return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)


def supervise(settings: Settings, count: int) -> int:
    """Run ``count`` workers until SIGTERM or SIGINT; restart one that exits meanwhile."""
    embedded = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = EmbeddedRedis(settings.var_dir)
        redis_url = embedded.start()
    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    workers = {i: _spawn(settings, redis_url, i, count) for i in range(count)}
    log.info("workers started", extra={"workers": count, "pids": [w.pid for w in workers.values()]})
    try:
        while not stopping:
            for index, worker in list(workers.items()):
                code = worker.poll()
                if code is not None and not stopping:
                    log.error("worker exited; starting another", extra={"worker": index, "code": code})
                    time.sleep(RESTART_PAUSE_SECONDS)
                    workers[index] = _spawn(settings, redis_url, index, count)
            time.sleep(0.2)
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for worker in workers.values():
            try:
                worker.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if embedded is not None:
            embedded.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
