"""The kernel's ``loom.celery.auto`` path: ``create_app("config/worker.yaml")`` for a worker module.

Same function as :func:`loom_django.celery.create_app`; kept at this path so a ported
``worker_main.py`` needs only the ``loom.`` → ``loom_django.`` rename::

    # worker_main.py  (celery -A worker_main:celery_app worker)
    from loom_django.celery.auto import create_app
    celery_app = create_app("config/worker.yaml")

A Django project does not need it: ``celery -A <project> worker`` runs every discovered job.
"""

from __future__ import annotations

from loom_django.celery.worker import bootstrap_worker, create_app

__all__ = ["bootstrap_worker", "create_app"]
