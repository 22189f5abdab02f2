"""The ORM door's system checks (``loom_django.E2xx``); each only reads state."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

__all__ = ["CHECKS", "E200", "check_mapping"]

E200 = "loom_django.E200"
"""A loom model declaring ``__tablename__`` could not be mapped to a Django model."""


def check_mapping(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``loom_django.E200``: every loom model of the apps has a Django model."""
    from loom_django.orm.mapping import discovery_mapping_problems, mapping_failures

    return discovery_mapping_problems() + [
        Error(
            message,
            hint=(
                "Fix the reference named above (a foreign key or relation to a model that "
                "is not defined in an installed app's models module)."
            ),
            obj=loom.__qualname__,
            id=E200,
        )
        for loom, message in mapping_failures().items()
    ]


CHECKS = (check_mapping,)
