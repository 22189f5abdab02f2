"""Trace ids on log records: every record gets ``trace_id`` for formats such as ``%(trace_id)s``."""

from __future__ import annotations

import logging
from typing import Any

from loom_django.core.tracing import get_trace_id

__all__ = ["install_trace_log_records"]

_installed = False


def install_trace_log_records() -> None:
    """Wrap the log record factory so each record carries the current trace id (idempotent).

    Records made outside any traced work get ``trace_id = "-"``.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not hasattr(record, "trace_id"):
            record.trace_id = get_trace_id() or "-"
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
