"""The Celery door: jobs and callbacks as Celery tasks, results in django-celery-results.

``celery -A <project> worker`` runs every discovered job: loom registers its tasks on
the project's Celery app like ``shared_task``s. ``CeleryJobService`` is bound as the
``JobService`` when a broker is configured (``app.jobs.backend``).
"""

from __future__ import annotations

from loom_django.extras import require

require("celery", extra="celery")

from loom_django.celery.appref import bind_celery_app, get_celery_app
from loom_django.celery.config import CeleryConfig, JobsSettings
from loom_django.celery.errors import DispatchError, DuplicateTaskNameError
from loom_django.celery.names import TaskCatalog, callback_error_task_name, callback_task_name
from loom_django.celery.results import JobError, JobStatus
from loom_django.celery.service import CeleryJobService
from loom_django.celery.tasks import register_tasks
from loom_django.celery.tracelog import install_trace_log_records
from loom_django.celery.worker import WorkerBootstrapResult, bootstrap_worker, create_app

__all__ = [
    "CeleryConfig",
    "CeleryJobService",
    "DispatchError",
    "DuplicateTaskNameError",
    "JobError",
    "JobStatus",
    "JobsSettings",
    "TaskCatalog",
    "WorkerBootstrapResult",
    "bind_celery_app",
    "bootstrap_worker",
    "callback_error_task_name",
    "callback_task_name",
    "create_app",
    "get_celery_app",
    "install_trace_log_records",
    "register_tasks",
]
