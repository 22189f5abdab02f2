"""``manage.py loom_etl``: the command lives in :mod:`loom_django.etl.command`."""

from __future__ import annotations

from loom_django.etl.command import Command

__all__ = ["Command"]
