"""Operational settings of ``loom_stream run``: log level, metrics endpoint, failure reasons."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

__all__ = [
    "configure_logging",
    "metrics_endpoint",
    "otel_section",
    "prometheus_enabled",
    "pushgateway_url",
    "reason",
    "serve_metrics",
]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Log the ``loom_django`` loggers at ``level`` to stderr (adds one handler, once)."""
    logger = logging.getLogger("loom_django")
    logger.setLevel(level)
    if not any(getattr(h, "_loom_stream", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._loom_stream = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False


def _observability(config: Any, name: str) -> Mapping[str, Any]:
    from loom_django.streaming.compiler import plain_config

    section = (plain_config(config).get("observability") or {}).get(name) or {}
    return section if isinstance(section, Mapping) else {}


def _prometheus_section(config: Any) -> Mapping[str, Any]:
    return _observability(config, "prometheus")


def otel_section(config: Any) -> Mapping[str, Any]:
    """``observability.otel`` (``enabled``, ``config.endpoint``, ``config.service_name``)."""
    return _observability(config, "otel")


def pushgateway_url(config: Any) -> str | None:
    """``observability.prometheus.pushgateway_url`` (or under ``config``), when Prometheus is
    enabled."""
    section = _prometheus_section(config)
    if not section.get("enabled"):
        return None
    settings = section.get("config") or {}
    url = section.get("pushgateway_url") or (
        settings.get("pushgateway_url") if isinstance(settings, Mapping) else None
    )
    return str(url) if url else None


def prometheus_enabled(config: Any) -> bool:
    """``observability.prometheus.enabled``."""
    return bool(_prometheus_section(config).get("enabled"))


def metrics_endpoint(option: int | None, plan: Any, config: Any) -> tuple[int | None, str]:
    """``(port, bind address)`` of the scrape server, or ``(None, …)`` for none.

    Port: ``--metrics-port``, else ``streaming.runtime.metrics_port``, else
    ``observability.prometheus.config.port`` when Prometheus is enabled. Address:
    ``observability.prometheus.config.bind_address`` (default ``127.0.0.1``).
    """
    section = _prometheus_section(config)
    settings = section.get("config") or {}
    port = option or plan.runtime.metrics_port
    if port is None and section.get("enabled"):
        port = settings.get("port")
    return (int(port) if port else None), str(settings.get("bind_address") or "127.0.0.1")


def serve_metrics(port: int, addr: str) -> None:
    """Start the Prometheus scrape server (a daemon thread)."""
    from loom_django.streaming.metrics import serve

    serve(port, addr=addr)


def reason(exc: BaseException) -> str:
    """The one-line reason of the innermost exception of ``exc``'s cause/context chain."""
    seen: set[int] = set()
    inner = exc
    while id(inner) not in seen:
        seen.add(id(inner))
        nxt = inner.__cause__ or inner.__context__
        if nxt is None:
            break
        inner = nxt
    text = str(inner).strip() or type(inner).__name__
    return text.splitlines()[0] if text else type(inner).__name__
