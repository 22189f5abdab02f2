"""Task names of jobs and callbacks, and the catalog that maps them both ways."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loom_django.celery.errors import DuplicateTaskNameError
from loom_django.core.job.callback import is_callback_class
from loom_django.core.job.job import Job, job_task_name

__all__ = [
    "CALLBACK_ERROR_PREFIX",
    "CALLBACK_PREFIX",
    "JOB_PREFIX",
    "TaskCatalog",
    "callback_error_task_name",
    "callback_task_name",
    "job_task_name",
]

JOB_PREFIX = "loom.job."
CALLBACK_PREFIX = "loom.callback."
CALLBACK_ERROR_PREFIX = "loom.callback_error."


def callback_task_name(callback_type: type[Any]) -> str:
    """``loom.callback.<qualname>``: the task that runs ``on_success``."""
    return f"{CALLBACK_PREFIX}{callback_type.__qualname__}"


def callback_error_task_name(callback_type: type[Any]) -> str:
    """``loom.callback_error.<qualname>``: the task that runs ``on_failure``."""
    return f"{CALLBACK_ERROR_PREFIX}{callback_type.__qualname__}"


def _where(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class TaskCatalog:
    """Every loom task of one runtime: job and callback classes by task name and back.

    Build it with :meth:`build`, which rejects two classes resolving to one name.
    """

    jobs: Mapping[str, type[Job[Any]]] = field(default_factory=dict)
    success_callbacks: Mapping[str, type[Any]] = field(default_factory=dict)
    failure_callbacks: Mapping[str, type[Any]] = field(default_factory=dict)

    @classmethod
    def build(cls, jobs: Iterable[type[Any]], callbacks: Iterable[type[Any]]) -> TaskCatalog:
        """Name every job and callback class.

        Raises:
            DuplicateTaskNameError: two classes resolve to the same task name.
            TypeError: an entry of ``jobs`` is not a Job subclass.
        """
        owners: dict[str, type[Any]] = {}
        job_names: dict[str, type[Job[Any]]] = {}
        ok_names: dict[str, type[Any]] = {}
        error_names: dict[str, type[Any]] = {}

        def claim(name: str, owner: type[Any]) -> None:
            other = owners.get(name)
            if other is not None and other is not owner:
                raise DuplicateTaskNameError(
                    f"Duplicate Celery task name '{name}': {_where(other)} and {_where(owner)}. "
                    "Rename one class or give the job an explicit __task_name__."
                )
            owners[name] = owner

        for job in dict.fromkeys(jobs):
            if not (isinstance(job, type) and issubclass(job, Job)):
                raise TypeError(f"{job!r} is not a Job subclass")
            name = job_task_name(job)
            claim(name, job)
            job_names[name] = job
        for callback in dict.fromkeys(callbacks):
            if not is_callback_class(callback):
                continue
            for name, table in (
                (callback_task_name(callback), ok_names),
                (callback_error_task_name(callback), error_names),
            ):
                claim(name, callback)
                table[name] = callback
        return cls(job_names, ok_names, error_names)

    def names(self) -> tuple[str, ...]:
        """Every task name, sorted."""
        return tuple(sorted({*self.jobs, *self.success_callbacks, *self.failure_callbacks}))

    def job_name(self, job_type: type[Any]) -> str | None:
        """The task name of ``job_type`` if this catalog knows the class."""
        name = job_task_name(job_type)
        return name if self.jobs.get(name) is job_type else None

    def knows_callback(self, callback_type: type[Any]) -> bool:
        """Whether ``callback_type`` has its two tasks in this catalog."""
        return self.success_callbacks.get(callback_task_name(callback_type)) is callback_type

    def job_label(self, task_name: str | None) -> str | None:
        """The job class name behind ``task_name`` (for status reports)."""
        if task_name is None:
            return None
        job = self.jobs.get(task_name)
        if job is not None:
            return job.__name__
        if task_name.startswith(JOB_PREFIX):
            return task_name[len(JOB_PREFIX) :]
        return None
