"""The flow registry: flows discovered at startup, compiled once into frozen plans."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from loom_django.streaming.compiler import compile_flow
from loom_django.streaming.errors import StreamCompilationError
from loom_django.streaming.flow import StreamFlow
from loom_django.streaming.plan import CompiledPlan

__all__ = ["FlowEntry", "FlowRegistry", "registry"]


@dataclass
class FlowEntry:
    """A registered flow and the outcome of compiling it."""

    flow: StreamFlow
    module: str
    plan: CompiledPlan | None = None
    errors: list[str] = field(default_factory=list)


class FlowRegistry:
    """Flows by unique name; duplicates are kept for the ``E401`` check."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, FlowEntry] = {}
        self.duplicates: list[tuple[str, str, str]] = []
        self.startup_error: str | None = None
        self.provider: Callable[[], Any] | None = None
        self.config: Any = None

    def load(
        self,
        flows: Iterable[Any],
        *,
        config: Any,
        provider: Callable[[], Any] | None,
    ) -> None:
        """Replace the registry with ``flows`` compiled against ``config``; never raises."""
        compiler = None
        self.startup_error = None
        if provider is not None:
            try:
                compiler = provider().compiler
            except Exception as exc:  # BootstrapError: recorded for the checks
                self.startup_error = str(exc)
        entries: dict[str, FlowEntry] = {}
        duplicates: list[tuple[str, str, str]] = []
        for flow in flows:
            if not isinstance(flow, StreamFlow):
                continue
            module = _origin(flow)
            if flow.name in entries:
                duplicates.append((flow.name, entries[flow.name].module, module))
                continue
            entry = FlowEntry(flow, module)
            try:
                entry.plan = compile_flow(flow, config=config, compiler=compiler)
            except StreamCompilationError as exc:
                entry.errors = list(exc.errors)
            entries[flow.name] = entry
        with self._lock:
            self._entries = entries
            self.duplicates = duplicates
            self.provider = provider
            self.config = config

    def get(self, name: str) -> StreamFlow:
        """The flow named ``name``.

        Raises:
            KeyError: no such flow (the message lists the known names).
        """
        return self.entry(name).flow

    def entry(self, name: str) -> FlowEntry:
        """The registry entry of ``name``.

        Raises:
            KeyError: no such flow.
        """
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(f"unknown flow {name!r} (known: {known})") from None

    def all(self) -> list[FlowEntry]:
        """Every entry, by name."""
        return [self._entries[n] for n in sorted(self._entries)]

    def names(self) -> list[str]:
        """Every flow name, sorted."""
        return sorted(self._entries)


def _origin(flow: StreamFlow) -> str:
    return str(getattr(flow.source.payload, "__module__", "?"))


registry = FlowRegistry()
"""The process-wide registry filled by the door's ``ready``."""
