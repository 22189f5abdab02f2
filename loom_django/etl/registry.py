"""The registry of pipelines: discovered in ``ready()``, compiled once, looked up by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from loom_django.etl.errors import ETLCompilationError

__all__ = ["Registry", "registry"]


@dataclass
class Registry:
    """Pipelines by name, their compile errors and startup failures (for the checks)."""

    pipelines: dict[str, type[Any]] = field(default_factory=dict)
    duplicates: list[tuple[str, str, str]] = field(default_factory=list)
    errors: dict[str, ETLCompilationError] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    plans: dict[str, Any] = field(default_factory=dict)
    config: Any = None
    runtime: Any = None
    compiler: Any = None

    def add(self, pipeline: type[Any], name: str) -> None:
        """Register ``pipeline`` under ``name`` (a second class of that name is a duplicate)."""
        current = self.pipelines.get(name)
        if current is not None and current is not pipeline:
            self.duplicates.append((name, _path(current), _path(pipeline)))
            return
        self.pipelines[name] = pipeline

    def get(self, name: str) -> type[Any]:
        """The pipeline registered as ``name``, or imported from a dotted class path.

        Raises:
            KeyError: no such pipeline.
        """
        if name in self.pipelines:
            return self.pipelines[name]
        module, _, attr = name.rpartition(".")
        if module:
            try:
                found = getattr(import_module(module), attr, None)
            except ImportError:
                found = None
            if found is not None:
                return found  # type: ignore[no-any-return]
        raise KeyError(name)

    def all(self) -> list[tuple[str, type[Any]]]:
        """Every pipeline, sorted by name."""
        return sorted(self.pipelines.items())


def _path(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def pipeline_name(cls: type[Any]) -> str:
    """``ETLPipeline.name`` or ``<app_label>.<ClassName>``."""
    if cls.name:
        return str(cls.name)
    from django.apps import apps

    config = apps.get_containing_app_config(cls.__module__)
    label = config.label if config is not None else cls.__module__.split(".")[0]
    return f"{label}.{cls.__name__}"


registry = Registry()
"""The process-wide registry filled by the door's ``ready()``."""
