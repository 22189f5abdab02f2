"""The Celery module of the test project, written like a user's ``<project>/celery.py``.

``LOOM_TEST_NO_DJANGO_FIXUP=1`` builds the app without Celery's Django fixup (Django is
set up first instead), so only loom's own signal handlers manage DB connections.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.jobs.worker_settings")

if os.environ.get("LOOM_TEST_NO_DJANGO_FIXUP"):
    import django

    django.setup()
    app = Celery("loomtests", fixups=[])
else:
    app = Celery("loomtests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
