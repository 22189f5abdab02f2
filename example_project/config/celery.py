"""The store's Celery app: ``celery -A config worker`` runs every job loom discovered.

A plain Celery module: loom registers its ``loom.job.*`` and ``loom.callback*`` tasks
on this app itself, whichever of this module and Django is imported first.
"""

from __future__ import annotations

import os

from celery import Celery

__all__ = ["app"]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
