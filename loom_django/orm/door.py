"""The ORM door's side of the door contract (see :mod:`loom_django.doors`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loom_django.core.bootstrap import RuntimeSpec

__all__ = ["EXTRA", "REQUIRES", "configure_runtime_spec"]

REQUIRES: tuple[str, ...] = ()
EXTRA = ""


def configure_runtime_spec(spec: RuntimeSpec) -> None:
    """Django repositories, Django transactions and ``on_commit`` for the runtime."""
    from loom_django.orm.integration import configure_runtime_spec as configure

    configure(spec)
