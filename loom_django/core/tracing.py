"""Trace ids carried through a request, a job or a stream message in a context variable."""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token

__all__ = ["generate_trace_id", "get_trace_id", "reset_trace_id", "set_trace_id"]

_TRACE_ID: ContextVar[str | None] = ContextVar("loom_trace_id", default=None)


def generate_trace_id() -> str:
    """A new trace id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def get_trace_id() -> str | None:
    """The trace id of the current context, if any."""
    return _TRACE_ID.get()


def set_trace_id(trace_id: str | None) -> Token[str | None]:
    """Set the current trace id; keep the token to restore the previous one."""
    return _TRACE_ID.set(trace_id)


def reset_trace_id(token: Token[str | None]) -> None:
    """Restore the trace id that was current before ``set_trace_id``."""
    _TRACE_ID.reset(token)
