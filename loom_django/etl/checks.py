"""System checks of the ETL door (ids ``loom_django.E3xx``); no side effects."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning

__all__ = [
    "CHECKS",
    "E_COMPILE",
    "E_CONFIG",
    "E_DUPLICATE",
    "W_COMPILE",
    "check_compile",
    "check_config",
    "check_duplicates",
]

E_DUPLICATE = "loom_django.E301"
"""Two pipeline classes share one registry name."""
E_COMPILE = "loom_django.E302"
"""A registered pipeline fails to compile (one message per error, code in the hint)."""
E_CONFIG = "loom_django.E303"
"""The ``etl:`` configuration is invalid, or discovery failed."""
W_COMPILE = "loom_django.W301"
"""A compile warning of a registered pipeline."""


def check_duplicates(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E301: duplicate pipeline names."""
    from loom_django.etl.registry import registry

    return [
        Error(
            f"ETL pipeline name {name!r} is used by {first} and {second}.",
            hint="Set a distinct ETLPipeline.name on one of them.",
            id=E_DUPLICATE,
        )
        for name, first, second in registry.duplicates
    ]


def check_compile(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E302 per compile error, W301 per compile warning."""
    from loom_django.etl.registry import registry

    messages: list[CheckMessage] = []
    for name, error in sorted(registry.errors.items()):
        for item in getattr(error, "errors", (error,)):
            messages.append(
                Error(
                    f"ETL pipeline {name!r}: {item.component}: {item.message}",
                    hint=f"Error code {item.code}; fix the declaration (field: {item.field}).",
                    obj=name,
                    id=E_COMPILE,
                )
            )
    for name, plan in sorted(registry.plans.items()):
        for warning in plan.warnings:
            messages.append(
                Warning(
                    f"ETL pipeline {name!r}: {warning}",
                    hint="See docs/etl.md.",
                    obj=name,
                    id=W_COMPILE,
                )
            )
    return messages


def check_config(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E303: invalid ETL configuration or a failed discovery."""
    from loom_django.etl.registry import registry

    return [
        Error(
            failure,
            hint="Fix LOOM['CONFIG']['etl'] / the etl: YAML section or the module.",
            id=E_CONFIG,
        )
        for failure in registry.failures
    ]


CHECKS = (check_duplicates, check_compile, check_config)
