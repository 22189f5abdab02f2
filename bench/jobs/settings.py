"""Django settings of the jobs benchmark (dispatcher and worker share them)."""

from __future__ import annotations

import os

import dj_database_url

SECRET_KEY = "loom-bench-jobs"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "loom_django",
    "django_celery_results",
    "bench.jobs.benchapp",
]
DATABASES = {"default": dj_database_url.parse(os.environ["LOOM_BENCH_JOBS_DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOOM: dict[str, object] = {}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

CELERY_BROKER_URL = os.environ["LOOM_BENCH_JOBS_BROKER_URL"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ["LOOM_BENCH_JOBS_PREFIX"]}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_DEFAULT_QUEUE = "bench"
CELERY_TASK_ROUTES = {"bench.item_summary": {"queue": "bench"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = int(os.environ.get("LOOM_BENCH_JOBS_PREFETCH", "4"))
