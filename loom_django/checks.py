"""System checks: startup failures and misconfiguration surface in ``manage.py check``."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning

__all__ = ["CHECKS", "E100", "check_runtime", "check_settings"]

E100 = "loom_django.E100"
"""A use case, job or callback failed to compile or resolve (the runtime did not start)."""


def check_runtime(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``loom_django.E100``: a use case, job or callback failed to compile or resolve."""
    from loom_django.runtime import bootstrap_failure

    failure = bootstrap_failure()
    if failure is None:
        return []
    cause = failure.__cause__ or failure
    return [
        Error(
            str(cause),
            hint="Fix the declaration named above; nothing is served until it compiles.",
            obj=type(cause).__name__,
            id=E100,
        )
    ]


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Invalid or unknown ``settings.LOOM`` entries, each with its own stable id."""
    from loom_django.conf import settings_problems

    messages: list[CheckMessage] = []
    for problem in settings_problems():
        kind = Warning if problem.id.startswith("loom_django.W") else Error
        messages.append(kind(problem.msg, hint=problem.hint, id=problem.id))
    return messages


CHECKS = (check_settings, check_runtime)
"""The app's own checks; each door adds its ``CHECKS`` (see :mod:`loom_django.doors`)."""
