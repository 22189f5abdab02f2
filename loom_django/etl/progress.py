"""Progress renderers of ``loom_etl run`` (``--progress auto|tty|plain|json|none``).

Each renderer is a lifecycle observer writing to the command's stdout; logs go to stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loom_django.etl.runner import Event

__all__ = ["JsonProgress", "PlainProgress", "TtyProgress", "choose_mode", "progress_observer"]

MODES = ("auto", "tty", "plain", "json", "none")


def _ts() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def choose_mode(mode: str, out: Any) -> str:
    """``auto`` becomes ``tty`` on a terminal whose ``TERM`` is not ``dumb``, else ``plain``."""
    if mode != "auto":
        return mode
    isatty = getattr(out, "isatty", None)
    on_tty = bool(isatty and isatty())
    return "tty" if on_tty and os.environ.get("TERM", "") != "dumb" else "plain"


class PlainProgress:
    """One line per finished scope: ``<ts> step LoadBooks success 0.02s rows=1``."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        """Write the line of a finished scope."""
        if event.kind != "end":
            return
        rows = f" rows={event.rows_written}" if event.rows_written is not None else ""
        rej = f" rejected={event.rows_rejected}" if event.rows_rejected else ""
        dur = f" {event.duration_ms / 1000:.2f}s" if event.duration_ms is not None else ""
        err = f" {event.error_type}: {event.error}" if event.error_type else ""
        line = f"{_ts()} {event.scope} {event.name} {event.status}{dur}{rows}{rej}{err}"
        with self._lock:
            self.out.write(line)


_JSON_KEYS = (
    "scope",
    "kind",
    "name",
    "run_id",
    "id",
    "status",
    "duration_ms",
    "rows_written",
    "rows_rejected",
    "error_type",
    "error",
)


class JsonProgress:
    """One JSON object per lifecycle event (NDJSON) with stable keys."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        """Write the event as one JSON line."""
        data = dataclasses.asdict(event)
        line = {key: data[key] for key in _JSON_KEYS}
        line["ts"] = _ts()
        if event.params is not None:
            line["params"] = event.params
        with self._lock:
            self.out.write(json.dumps(line, default=str, sort_keys=True))


@dataclasses.dataclass
class _Row:
    name: str
    depth: int
    state: str = "running"
    started: float = dataclasses.field(default_factory=time.monotonic)
    duration_ms: float | None = None
    rows: int | None = None
    rejected: int | None = None
    error: str = ""


_STATES = {"success": "done", "failed": "failed", "interrupted": "interrupted"}
_COLOURS = {"running": "\x1b[33m", "done": "\x1b[32m", "failed": "\x1b[31m"}
_RESET = "\x1b[0m"


class TtyProgress:
    """A live tree (pipeline → processes → steps) redrawn in place with ANSI escapes.

    Each line shows the state (running with elapsed time, done, failed), the duration and the
    rows written/rejected; parallel members run side by side as separate running lines. A
    ticker thread refreshes the elapsed times every ``interval`` seconds.
    """

    def __init__(self, out: Any, *, colour: bool = True, interval: float = 0.5) -> None:
        from django.core.management.base import OutputWrapper

        self._write = partial(out.write, ending="") if isinstance(out, OutputWrapper) else out.write
        self.colour = colour and "NO_COLOR" not in os.environ
        self.interval = interval
        self._rows: dict[str, _Row] = {}
        self._drawn = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def on_event(self, event: Event) -> None:
        """Update the tree and redraw it."""
        with self._lock:
            if event.kind == "start":
                depth = {"pipeline": 0, "process": 1}.get(event.scope, 2)
                self._rows[event.id] = _Row(event.name, depth)
            else:
                row = self._rows.get(event.id)
                if row is None or event.kind == "error":
                    return
                row.state = _STATES.get(event.status or "", "failed")
                row.duration_ms = event.duration_ms
                row.rows = event.rows_written
                row.rejected = event.rows_rejected
                row.error = f"{event.error_type}: {event.error}" if event.error_type else ""
                if event.scope == "pipeline":
                    self._stop.set()  # the ticker must not redraw over what follows
            self._redraw()
        if event.scope == "pipeline" and event.kind == "start":
            self._start_ticker()
        elif event.scope == "pipeline" and self._ticker is not None:
            self._ticker.join()

    def _start_ticker(self) -> None:
        def tick() -> None:
            while not self._stop.wait(self.interval):
                with self._lock:
                    if not self._stop.is_set():
                        self._redraw()

        self._stop.clear()
        self._ticker = threading.Thread(target=tick, name="loom-etl-progress", daemon=True)
        self._ticker.start()

    def _line(self, row: _Row) -> str:
        if row.state == "running":
            status = f"running {time.monotonic() - row.started:5.1f}s"
        else:
            status = f"{row.state:<7} {(row.duration_ms or 0) / 1000:5.2f}s"
        if self.colour:
            status = f"{_COLOURS.get(row.state, '')}{status}{_RESET}"
        counts = f"  rows={row.rows}" if row.rows is not None else ""
        counts += f" rejected={row.rejected}" if row.rejected else ""
        err = f"  {row.error}" if row.error else ""
        label = ("  " * row.depth + ("└─ " if row.depth else "") + row.name).ljust(40)
        return f"{label} {status}{counts}{err}"

    def _redraw(self) -> None:
        lines = [self._line(row) for row in self._rows.values()]
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self._write(up + "\x1b[J" + "\n".join(lines) + "\n")
        self._drawn = len(lines)


def progress_observer(mode: str, out: Any, *, colour: bool = True) -> Any:
    """The observer for a resolved ``--progress`` mode, or ``None`` for ``none``."""
    if mode == "json":
        return JsonProgress(out)
    if mode == "plain":
        return PlainProgress(out)
    if mode == "tty":
        return TtyProgress(out, colour=colour)
    return None
