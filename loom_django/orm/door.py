"""The ORM door's side of the door contract (see :mod:`loom_django.doors`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loom_django.orm.checks import CHECKS

if TYPE_CHECKING:
    from loom_django.contributions import RuntimeProvider
    from loom_django.core.bootstrap import RuntimeSpec

__all__ = ["CHECKS", "EXTRA", "REQUIRES", "configure_runtime_spec", "install", "ready"]

REQUIRES: tuple[str, ...] = ()
EXTRA = ""


def install() -> None:
    """Map loom models to Django models as their modules are imported."""
    from loom_django.orm.mapping import install_mapping_hook

    install_mapping_hook()


def ready(provider: RuntimeProvider) -> None:
    """Map every model still waiting, even when the runtime failed before the ORM door ran
    (so ``makemigrations`` and check ``E200`` see every model)."""
    from loom_django.orm.integration import finalize_recording_failures

    finalize_recording_failures()


def configure_runtime_spec(spec: RuntimeSpec) -> None:
    """Django repositories, Django transactions and ``on_commit`` for the runtime."""
    from loom_django.orm.integration import configure_runtime_spec as configure

    configure(spec)
