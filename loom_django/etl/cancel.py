"""Cooperative cancellation of a run: SIGINT/SIGTERM and ``--timeout`` set one flag.

Once the flag is set no new step starts (the running one finishes its current operation),
the run ends with status ``interrupted`` and its RUN-scope temps are removed. A second
signal stops at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from loom_django.etl.errors import RunInterrupted

__all__ = ["Cancellation", "cancel_after", "cancel_on_signals"]

_log = logging.getLogger("loom_django.etl.runner")


class Cancellation:
    """A run-wide cancel flag with the reason it was set and callbacks run once when it is."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.signum: int | None = None
        self.reason = ""
        self.callbacks: list[Callable[[], None]] = []

    @property
    def is_set(self) -> bool:
        """Whether the run was cancelled."""
        return self._event.is_set()

    def cancel(self, reason: str, signum: int | None = None) -> None:
        """Set the flag (first call wins) and run the callbacks, logging their failures."""
        with self._lock:
            if self._event.is_set():
                return
            self.signum, self.reason = signum, reason
            self._event.set()
        for callback in self.callbacks:
            try:
                callback()
            except Exception:
                _log.warning("ETL cancel callback %r failed", callback, exc_info=True)

    def check(self) -> None:
        """Raise :class:`RunInterrupted` if the run was cancelled (called before each step)."""
        if self._event.is_set():
            raise RunInterrupted(self.signum, self.reason)


@contextmanager
def cancel_on_signals(cancel: Cancellation) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM set ``cancel``; a second one stops at once.

    Only the main thread can install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise RunInterrupted(signum)
        _log.warning("signal %s: no new step starts; send it again to stop now", signum)
        cancel.cancel(f"interrupted by signal {signum}", signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def cancel_after(cancel: Cancellation, seconds: float | None) -> Iterator[None]:
    """Cancel the run when it lasts longer than ``seconds`` (``None``: never)."""
    if seconds is None:
        yield
        return
    timer = threading.Timer(seconds, cancel.cancel, args=(f"timed out after {seconds:g}s",))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
