"""Job: a use-case-like unit of background work, compiled and executed by the same engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

__all__ = ["Job", "JobConfig", "apply_job_config", "job_task_name"]

ResultT = TypeVar("ResultT")


class Job(Generic[ResultT]):
    """Base of background jobs; ``execute`` takes the same markers as a use case.

    Options are class variables (``__queue__``, ``__retries__``, ``__countdown__``,
    ``__timeout__``, ``__priority__``, ``__backoff__``, ``__task_name__``). A job has no
    ``main_repo``: it receives repositories through its constructor or through markers.
    """

    __queue__: ClassVar[str] = "default"
    __retries__: ClassVar[int] = 0
    __countdown__: ClassVar[int] = 0
    __timeout__: ClassVar[float | None] = None
    __priority__: ClassVar[int] = 0
    __backoff__: ClassVar[float] = 2
    __task_name__: ClassVar[str | None] = None

    computes: ClassVar[Sequence[Any]] = ()
    rules: ClassVar[Sequence[Any]] = ()
    read_only: ClassVar[bool] = False

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """The job's work; override with typed parameters and markers (sync or async)."""
        raise NotImplementedError

    execute.__loom_abstract__ = True  # type: ignore[attr-defined]


def job_task_name(job_type: type[Job[Any]]) -> str:
    """The Celery task name of ``job_type``: ``__task_name__`` or ``loom.job.<qualname>``."""
    return job_type.__task_name__ or f"loom.job.{job_type.__qualname__}"


class JobConfig:
    """YAML overrides of one job's options (``jobs.<ClassName>``); ``None`` leaves as is."""

    __slots__ = ("backoff", "countdown", "priority", "queue", "retries", "timeout")

    def __init__(
        self,
        queue: str | None = None,
        retries: int | None = None,
        countdown: int | None = None,
        timeout: float | None = None,
        priority: int | None = None,
        backoff: float | None = None,
    ) -> None:
        self.queue = queue
        self.retries = retries
        self.countdown = countdown
        self.timeout = timeout
        self.priority = priority
        self.backoff = backoff


def apply_job_config(job_type: type[Job[Any]], cfg: JobConfig) -> None:
    """Set the non-None options of ``cfg`` on ``job_type`` only (idempotent)."""
    for option in JobConfig.__slots__:
        value = getattr(cfg, option)
        if value is not None:
            setattr(job_type, f"__{option}__", value)
