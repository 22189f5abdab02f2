"""State of the mapping: which loom model has which Django model, and table lookups."""

from __future__ import annotations

import threading
from typing import Any

from django.db import models

from loom_django.core.model import mapped_models

__all__ = ["REGISTRY", "MappingRegistry"]


class MappingRegistry:
    """Loom ↔ Django pairs, models waiting for their references, models defined too late."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pending: list[type[Any]] = []
        self.django: dict[type[Any], type[models.Model]] = {}
        self.late: dict[type[Any], str] = {}
        self.generated: set[type[Any]] = set()
        self.failures: dict[type[Any], str] = {}

    def table_model(self, table: str) -> type[Any] | None:
        """The loom model of ``table`` that is (or is about to be) mapped to Django.

        Mapped models win, then those waiting to be mapped, most recent first; loom
        models defined after startup (never mapped) are ignored.
        """
        with self.lock:
            candidates = [*reversed(list(self.django)), *reversed(self.pending)]
        candidates += [m for m in reversed(mapped_models()) if m not in self.late]
        for loom in candidates:
            if loom.__dict__.get("__tablename__") == table:
                found: type[Any] = loom
                return found
        return None


REGISTRY = MappingRegistry()
"""The process-wide mapping registry."""
