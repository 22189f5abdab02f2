"""Creation hooks for mapped models, so a persistence door can map each one as it is defined."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "ModelHook",
    "add_model_hook",
    "detached_models",
    "is_detached",
    "mapped_models",
    "model_for_table",
    "register_model",
    "remove_model_hook",
]

ModelHook = Callable[[type[Any]], None]

_lock = threading.RLock()
_hooks: list[ModelHook] = []
_mapped: list[type[Any]] = []
_detached: list[type[Any]] = []
_detach_depth = threading.local()


def add_model_hook(fn: ModelHook) -> None:
    """Call ``fn(cls)`` for every mapped model, past and future.

    Models created before ``fn`` was added are replayed to it immediately, in creation
    order, so registration order does not matter. Exceptions raised by ``fn`` propagate
    (for a future model: out of its ``class`` statement).
    """
    with _lock:
        if fn in _hooks:
            return
        _hooks.append(fn)
        existing = list(_mapped)
    for cls in existing:
        fn(cls)


def remove_model_hook(fn: ModelHook) -> None:
    """Stop calling ``fn`` for new models (no-op when it was never added)."""
    with _lock:
        if fn in _hooks:
            _hooks.remove(fn)


def mapped_models() -> tuple[type[Any], ...]:
    """Every mapped model class created so far, in creation order."""
    with _lock:
        return tuple(_mapped)


def is_detached(cls: type[Any]) -> bool:
    """True for a model created inside :func:`detached_models` (never mapped)."""
    with _lock:
        return cls in _detached


@contextmanager
def detached_models() -> Iterator[None]:
    """Define table models that are not mapped by any door (pure unit tests, scratch code).

    Models created in this block are neither listed by :func:`mapped_models` nor passed
    to hooks, so e.g. a Django door active in the same process ignores them.
    """
    _detach_depth.value = getattr(_detach_depth, "value", 0) + 1
    try:
        yield
    finally:
        _detach_depth.value -= 1


def register_model(cls: type[Any]) -> None:
    """Record a newly created table model and run the hooks (called by the metaclass)."""
    if getattr(_detach_depth, "value", 0) > 0:
        with _lock:
            _detached.append(cls)
        return
    with _lock:
        _mapped.append(cls)
        hooks = list(_hooks)
    for fn in hooks:
        fn(cls)


def model_for_table(table: str) -> type[Any] | None:
    """The most recently defined model whose own ``__tablename__`` is ``table``.

    Mapped models are searched first, then detached ones; ``None`` when unknown.
    """
    with _lock:
        candidates = [*reversed(_mapped), *reversed(_detached)]
    return next((c for c in candidates if c.__dict__.get("__tablename__") == table), None)
