"""ETL backends by name: the built-ins, the ``loom.etl.backends`` entry points and pins.

A provider is a class instantiated with no arguments that has a ``name`` and a
``load(config, spark)`` returning the backend: an object (usually a module) with
``read_source``, ``run_sql``, ``run_client_step``, ``write_target`` and ``write_rejects``.
The entry point of the selected name is loaded only then, so pyspark is imported only
for Spark runs.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol

from loom_django.etl.config import EtlConfig

__all__ = [
    "GROUP",
    "BackendError",
    "BackendProvider",
    "PolarsProvider",
    "SparkProvider",
    "backend_names",
    "get_provider",
]

GROUP = "loom.etl.backends"
"""The entry-point group third-party backends register in."""


class BackendError(ValueError):
    """An unknown backend name, or one registered by several distributions."""


class BackendProvider(Protocol):
    """What ``loom.etl.backends`` entry points (and ``LOOM['ETL_BACKENDS']`` pins) name."""

    name: str

    def load(self, config: EtlConfig, spark: Any = None) -> Any:
        """The backend object whose functions the runner calls."""
        ...


class PolarsProvider:
    """The default, in-process backend."""

    name = "polars"

    def load(self, config: EtlConfig, spark: Any = None) -> Any:
        """The Polars backend module."""
        from loom_django.etl import _polars_backend

        return _polars_backend


class SparkProvider:
    """PySpark, local mode or a cluster (extra ``loom-django[spark]``)."""

    name = "spark"

    def load(self, config: EtlConfig, spark: Any = None) -> Any:
        """The Spark backend module, using ``spark`` as the session when given.

        Raises:
            MissingDependency: pyspark is not installed (names ``loom-django[spark]``).
        """
        from loom_django.extras import require

        require("pyspark", extra="spark")
        from loom_django.etl import _spark_backend

        if spark is not None:
            _spark_backend.set_session(spark)
        return _spark_backend


_BUILTIN: dict[str, type[Any]] = {"polars": PolarsProvider, "spark": SparkProvider}


def _pins() -> dict[str, str]:
    from loom_django.conf import conf

    return dict(conf.ETL_BACKENDS)


@lru_cache(maxsize=8)
def _registered(path: tuple[str, ...]) -> tuple[EntryPoint, ...]:
    """The group's entry points for one ``sys.path`` (scanning costs milliseconds)."""
    return tuple(entry_points(group=GROUP))


def _entry_points() -> tuple[EntryPoint, ...]:
    return _registered(tuple(sys.path))


def backend_names() -> list[str]:
    """Every selectable name: built-ins, entry points and pins, sorted."""
    names = set(_BUILTIN) | {ep.name for ep in _entry_points()} | set(_pins())
    return sorted(names)


def _load_object(path: str) -> Any:
    module, _, attr = path.replace(":", ".").rpartition(".")
    return getattr(import_module(module), attr)


def get_provider(name: str) -> BackendProvider:
    """The provider registered as ``name``: a pin, else its entry point, else a built-in.

    Raises:
        BackendError: ``name`` is unknown (the message lists the registered names), several
            distributions register it with different targets (pin one in
            ``LOOM['ETL_BACKENDS']``), or its provider cannot be imported.
    """
    pinned = _pins().get(name)
    if pinned is not None:
        try:
            return _load_object(pinned)()  # type: ignore[no-any-return]
        except (ImportError, AttributeError, ValueError) as exc:
            raise BackendError(
                f"LOOM['ETL_BACKENDS'][{name!r}] = {pinned!r} cannot be loaded: {exc}"
            ) from exc
    found = {ep.value: ep for ep in _entry_points() if ep.name == name}
    if len(found) > 1:
        raise BackendError(
            f"ETL backend {name!r} is registered more than once: {sorted(found)}; "
            f"pin one with LOOM['ETL_BACKENDS'] = {{{name!r}: 'dotted.path'}}"
        )
    if found:
        entry = next(iter(found.values()))
        try:
            return entry.load()()  # type: ignore[no-any-return]
        except (ImportError, AttributeError) as exc:
            raise BackendError(
                f"ETL backend {name!r} ({entry.value}) cannot be loaded: {exc}"
            ) from exc
    if name in _BUILTIN:
        return _BUILTIN[name]()  # type: ignore[no-any-return]
    raise BackendError(f"unknown ETL backend {name!r}; registered: {backend_names()}")
