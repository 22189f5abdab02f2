"""DB lanes (spec §7.3): a small set of threads, each owning its own Django connections, that
run the use cases of a ``WithAsync`` so DB work never runs on the event loop's thread.

Connection hygiene is the lanes' job, since no request signal fires in a stream worker:
``close_old_connections()`` (and ``reset_queries()`` under ``DEBUG``) on every lane before and
after each micro-batch; closing the lane's connections after an ``OperationalError`` or
``InterfaceError`` (the retry reconnects) and once the lane was idle for ``idle_close_s``
(``streaming.runtime.db_idle_close_s``); ``connections.close_all()`` on every lane's own
thread at shutdown. A stream worker thread is a lane too: :class:`IdleConnections` closes its
connections once it has not used them for ``db_idle_close_s``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

__all__ = ["DbLanes", "IdleConnections", "connection_hygiene", "database_summary"]

T = TypeVar("T")

_STOP = object()


class DbLanes:
    """``size`` lane threads fed from one queue; :meth:`run` awaits work on a free lane."""

    def __init__(
        self,
        size: int,
        name: str = "loom-db-lane",
        *,
        idle_close_s: float | None = 60.0,
        wait: Any = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"db_lanes must be >= 1 (got {size})")
        self.size = size
        self._idle_close_s = idle_close_s
        self._wait = wait  # a metrics.Histogram: seconds from submit to a lane taking the work
        self._queue: SimpleQueue[Any] = SimpleQueue()
        self._broadcast_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()
        self._closed = False

    @property
    def idents(self) -> set[int]:
        """The thread ids of the lanes."""
        return {t.ident for t in self._threads if t.ident is not None}

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on the next free lane."""
        future: Future[T] = Future()
        self._queue.put((fn, args, future, None, time.perf_counter()))
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Await ``fn(*args)`` run on a lane, without blocking the event loop.

        The wait is shielded like ``anyio.to_thread.run_sync``: a cancelled caller (a task
        timeout) still waits for the lane to finish, so no write outlives its message.
        """
        import anyio
        import anyio.from_thread
        import anyio.lowlevel

        event = anyio.Event()
        token = anyio.lowlevel.current_token()

        def wake(_: Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                anyio.from_thread.run_sync(event.set, token=token)

        future = self.submit(fn, *args)
        future.add_done_callback(wake)
        with anyio.CancelScope(shield=True):
            await event.wait()
        return future.result()

    def broadcast(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` once on every lane (each lane takes exactly one), and wait."""
        with self._broadcast_lock:
            barrier = threading.Barrier(self.size + 1)
            futures: list[Future[Any]] = []
            for _ in range(self.size):
                future: Future[Any] = Future()
                futures.append(future)
                self._queue.put((fn, (), future, barrier, 0.0))
            barrier.wait()
        for future in futures:
            future.result()

    @contextmanager
    def micro_batch(self) -> Iterator[None]:
        """Close obsolete or broken connections on every lane before and after the block."""
        self.broadcast(connection_hygiene)
        try:
            yield
        finally:
            self.broadcast(connection_hygiene)

    def close(self) -> None:
        """Close every lane's connections on its own thread, then stop the lanes."""
        if self._closed:
            return
        self._closed = True
        try:
            self.broadcast(_close_all)
        finally:
            for _ in self._threads:
                self._queue.put(_STOP)
            for thread in self._threads:
                thread.join(timeout=5)

    def _serve(self) -> None:
        used = False  # whether this lane may hold an open connection
        while True:
            try:
                item = self._queue.get(timeout=self._idle_close_s if used else None)
            except Empty:  # idle: release the connections (PgBouncer/firewall timeouts)
                _close_all()
                used = False
                continue
            used = True
            if item is _STOP:
                return
            fn, args, future, barrier, queued = item
            if not future.set_running_or_notify_cancel():
                continue
            if barrier is None and self._wait is not None:
                self._wait.observe_n(time.perf_counter() - queued, 1)
            try:
                result = fn(*args)
            except BaseException as exc:
                _after_failure(exc)
                future.set_exception(exc)
            else:
                future.set_result(result)
            if barrier is not None:  # one broadcast item per lane: wait for the others
                barrier.wait()


class IdleConnections:
    """Closes the calling thread's DB connections once it has not used them for
    ``idle_close_s`` (``None``: never), so an idle stream worker pins no connection
    (PgBouncer and firewall idle timeouts; spec §7.3 rule 3)."""

    def __init__(self, idle_close_s: float | None) -> None:
        self.idle_close_s = idle_close_s
        self._local = threading.local()

    def used(self) -> None:
        """This thread just used its connections (the end of a micro-batch)."""
        self._local.at = time.monotonic()

    def release_if_idle(self, now: float | None = None) -> bool:
        """Close this thread's connections when unused for ``idle_close_s``; whether it did.

        Called on every empty poll, so it costs one clock read while nothing is open.
        """
        at = getattr(self._local, "at", None)
        if at is None or self.idle_close_s is None:
            return False
        if (time.monotonic() if now is None else now) - at < self.idle_close_s:
            return False
        self._local.at = None
        _close_all()
        return True


def connection_hygiene() -> None:
    """What Django's request signals would do between requests, for this thread:
    ``close_old_connections()``, and ``reset_queries()`` under ``DEBUG``."""
    from django import db
    from django.conf import settings

    db.close_old_connections()
    if settings.DEBUG:
        db.reset_queries()


def _close_all() -> None:
    from django import db

    db.connections.close_all()


def _after_failure(exc: BaseException) -> None:
    """A lane whose query failed at the connection level drops it before any retry."""
    from django import db

    if isinstance(exc, db.OperationalError | db.InterfaceError):
        for conn in db.connections.all(initialized_only=True):
            conn.close()


def database_summary(plan: Any) -> dict[str, Any]:
    """What a flow does with the database, for ``loom_stream describe``: use-case steps (mode,
    idempotency, lane), ``IntoModel`` sinks, lanes per ``WithAsync`` and the connection budget
    (``workers + Σ db_lanes`` when the flow touches the database at all)."""
    from loom_django.streaming.model_sink import ModelSinkOp
    from loom_django.streaming.plan import StepOp, WithOp, path_label

    steps: dict[str, dict[str, Any]] = {}
    sinks: dict[str, str] = {}
    lanes: dict[str, int] = {}

    def walk(ops: Any, lane: str) -> None:
        for op in ops:
            if isinstance(op, StepOp) and op.kind == "use_case":
                step = op.step
                steps[path_label(op.path)] = {
                    "mode": step.mode,
                    "idempotency": "message"
                    if step.idempotency == "message"
                    else ("custom" if type(step).idempotency_key is not _base_key() else None),
                    "lane": lane,
                }
            elif isinstance(op, ModelSinkOp):
                sinks[path_label(op.path)] = op.model._meta.label
            elif isinstance(op, WithOp):
                inner_lane = lane
                if op.async_opts is not None:
                    inner_lane = f"WithAsync {path_label(op.path)}"
                    if any(isinstance(i, StepOp) and i.kind == "use_case" for i in op.ops):
                        lanes[path_label(op.path)] = op.async_opts.db_lanes
                walk(op.ops, inner_lane)
            for branch in (*getattr(op, "branches", ()), *getattr(op, "routes", ())):
                walk(branch.ops, lane)

    walk(plan.ops, "worker")
    workers = plan.runtime.workers_per_process
    touches = bool(steps or sinks)
    return {
        "use_case_steps": steps,
        "model_sinks": sinks,
        "db_lanes": lanes,
        "connection_budget": workers + sum(lanes.values()) if touches else 0,
    }


def _base_key() -> Any:
    from loom_django.streaming.usecase import UseCaseStep

    return UseCaseStep.idempotency_key
