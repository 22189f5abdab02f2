"""Issue 11 item 6: the kernel's ``loom.celery.auto.create_app`` has its loom_django path."""

from __future__ import annotations


def test_kernel_worker_entry_point_path_exists():
    from loom_django.celery import create_app
    from loom_django.celery.auto import create_app as auto_create_app

    assert auto_create_app is create_app
