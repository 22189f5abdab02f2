"""Bridged executions on a persistent event loop per lane thread.

``async_to_sync`` called from a thread without a loop starts a new event loop on a new
thread for every call (about 0.5 ms). When the calling thread says which loop it works for
(asgiref's own ``SyncToAsync.threadlocal.main_event_loop``, which asgiref sets when sync code
runs on behalf of an async caller), ``async_to_sync`` schedules the coroutine on that loop
instead and serves the coroutine's thread-sensitive calls (the ORM) on the calling thread as
before. :class:`BridgeLoops` keeps one such loop per lane thread and points the thread at it
for the duration of one call only, so no later ``async_to_sync`` of the thread sees it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["BridgeLoops"]

T = TypeVar("T")

_UNSET = object()
_ATTRIBUTES = ("main_event_loop", "main_event_loop_pid")


class _Loop:
    """An event loop running forever on its own daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


class BridgeLoops:
    """One persistent loop per calling thread for ``async_to_sync`` bridges; :meth:`close`
    stops them all (the engine's close, after its workers stopped)."""

    def __init__(self, name: str = "loom-bridge") -> None:
        self._name = name
        self._local = threading.local()
        self._loops: list[_Loop] = []
        self._lock = threading.Lock()
        self._closed = False
        # An engine dropped without close() (tests drive engines directly) stops its loops.
        self._finalizer = weakref.finalize(self, _close_loops, self._loops)

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``async_to_sync(fn)(*args, **kwargs)`` on this thread's persistent loop."""
        from asgiref.sync import SyncToAsync, async_to_sync

        local: Any = getattr(SyncToAsync, "threadlocal", None)
        owned = self._loop() if local is not None else None
        if local is None or owned is None:  # closed, or an asgiref without the hook:
            return async_to_sync(fn)(*args, **kwargs)  # a new loop for this call
        saved = tuple(getattr(local, attribute, _UNSET) for attribute in _ATTRIBUTES)
        local.main_event_loop = owned.loop
        local.main_event_loop_pid = os.getpid()
        try:
            return async_to_sync(fn)(*args, **kwargs)
        finally:
            for attribute, value in zip(_ATTRIBUTES, saved, strict=True):
                if value is _UNSET:
                    delattr(local, attribute)
                else:
                    setattr(local, attribute, value)

    def _loop(self) -> _Loop | None:
        owned: _Loop | None = getattr(self._local, "loop", None)
        if owned is not None and not owned.loop.is_closed():
            return owned
        with self._lock:
            if self._closed:
                return None
            owned = _Loop(f"{self._name}-{len(self._loops)}")
            self._loops.append(owned)
        self._local.loop = owned
        return owned

    def close(self) -> None:
        """Stop and close every loop; later calls bridge with a new loop each."""
        with self._lock:
            self._closed = True
        self._finalizer()


def _close_loops(loops: list[_Loop]) -> None:
    while loops:
        loops.pop().close()
