"""``manage.py loom_stream``: a shim; the command lives in ``loom_django.streaming.command``."""

from __future__ import annotations

from loom_django.streaming.command import Command

__all__ = ["Command"]
