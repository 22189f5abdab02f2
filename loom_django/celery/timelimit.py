"""Bound a job execution by ``__timeout__`` seconds where Celery's own soft limit cannot.

Celery enforces ``soft_time_limit`` only in the prefork pool. Jobs also run eagerly and
in the solo pool, on a process's main thread; there a ``SIGALRM`` timer raises
``SoftTimeLimitExceeded`` inside the job, like the prefork pool does. Elsewhere (the
threads pool) the guard is a no-op and the prefork limit, when present, still applies.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from celery.exceptions import SoftTimeLimitExceeded

__all__ = ["time_limit"]


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``SoftTimeLimitExceeded`` in the block after ``seconds`` (if positive)."""
    if (
        not seconds
        or seconds <= 0
        or not hasattr(signal, "SIGALRM")
        or threading.current_thread() is not threading.main_thread()
        or signal.getitimer(signal.ITIMER_REAL)[0] > 0
    ):
        yield
        return
    armed = [True]

    def expire(signum: int, frame: FrameType | None) -> None:
        if armed[0]:
            armed[0] = False
            raise SoftTimeLimitExceeded(f"time limit of {seconds}s exceeded")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
