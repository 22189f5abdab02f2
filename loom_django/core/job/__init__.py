"""Jobs: background units of work compiled and executed by the same engine as use cases."""

from __future__ import annotations

from loom_django.core.job.callback import JobCallback, NullJobCallback, is_callback_class
from loom_django.core.job.handle import JobGroup, JobHandle
from loom_django.core.job.job import Job, JobConfig, apply_job_config, job_task_name
from loom_django.core.job.service import (
    CapturedDispatch,
    InlineJobService,
    JobService,
    captured_dispatches,
)

__all__ = [
    "CapturedDispatch",
    "InlineJobService",
    "Job",
    "JobCallback",
    "JobConfig",
    "JobGroup",
    "JobHandle",
    "JobService",
    "NullJobCallback",
    "apply_job_config",
    "captured_dispatches",
    "is_callback_class",
    "job_task_name",
]
