"""The benchmark project's Celery module (``celery -A bench.jobs.celery_app worker``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.jobs.settings")

app = Celery("benchjobs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
