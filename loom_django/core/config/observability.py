"""Readers for §15.3 keys that have aliases or defaults: app name, metrics, tracing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from omegaconf import DictConfig

from loom_django.core.config.section import has_section, section

__all__ = ["MetricsSettings", "app_name", "metrics_settings", "trace_enabled"]

ConfigLike = DictConfig | Mapping[str, Any]


class MetricsSettings(msgspec.Struct, frozen=True):
    """Whether the Prometheus scrape view is mounted, and where."""

    enabled: bool = False
    path: str = "/metrics"


def _first(cfg: ConfigLike, keys: tuple[str, ...], tp: Any, default: Any) -> Any:
    for key in keys:
        if has_section(cfg, key):
            return section(cfg, key, tp)
    return default


def app_name(cfg: ConfigLike) -> str:
    """``app.name`` (default ``"loom"``)."""
    result: str = _first(cfg, ("app.name",), str, "loom")
    return result


def metrics_settings(cfg: ConfigLike) -> MetricsSettings:
    """``observability.prometheus.enabled`` / ``.config.path``; the seed keys ``metrics.enabled``
    and ``metrics.path`` are aliases, and the ``observability`` key wins when both are set."""
    return MetricsSettings(
        enabled=_first(cfg, ("observability.prometheus.enabled", "metrics.enabled"), bool, False),
        path=_first(cfg, ("observability.prometheus.config.path", "metrics.path"), str, "/metrics"),
    )


def trace_enabled(cfg: ConfigLike) -> bool:
    """``trace.enabled`` (default ``True``): trace-id middleware and span logging."""
    result: bool = _first(cfg, ("trace.enabled",), bool, True)
    return result
