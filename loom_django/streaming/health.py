"""``--health-file``: a file touched after every successful poll, for liveness probes."""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["HealthFile"]


class HealthFile:
    """Touches ``path`` when the source polled successfully, at most every ``min_interval_s``.

    A probe considers the flow alive while the file is younger than
    ``2 * poll_timeout_ms + the slowest micro-batch`` (plus ``min_interval_s``).
    """

    __slots__ = ("_next", "min_interval_s", "path")

    def __init__(self, path: str | os.PathLike[str], *, min_interval_s: float = 0.1) -> None:
        self.path = Path(path)
        self.min_interval_s = min_interval_s
        self._next = 0.0

    def beat(self, now: float | None = None) -> None:
        """Touch the file unless it was touched less than ``min_interval_s`` ago."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return
        self._next = now + self.min_interval_s
        self.path.touch()

    def remove(self) -> None:
        """Delete the file (the flow stopped); a missing file is fine."""
        self.path.unlink(missing_ok=True)
