"""Optional extras: one place that says which package is missing and which extra installs it."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from loom_django.core.errors import MissingDependency

__all__ = ["MissingDependency", "is_missing_extra", "require"]


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming the pip extra.

    Raises:
        MissingDependency: ``module`` (or one of its own imports) is not installed.
    """
    try:
        return import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingDependency(exc.name or module, extra=extra) from exc


def is_missing_extra(exc: ModuleNotFoundError, packages: tuple[str, ...]) -> bool:
    """Whether ``exc`` is one of ``packages`` (or a submodule) being absent, not a bug."""
    name = exc.name or ""
    return any(name == pkg or name.startswith(pkg + ".") for pkg in packages)
