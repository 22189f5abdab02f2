"""Django models of the ``loom_django`` app, imported by Django while it loads models.

Two jobs: it declares the ETL door's run history and run lock and the streaming door's
inbox, and it imports the ``app.discovery`` modules, so loom models outside
``<app>/models.py`` (loom-kernel's layout) become Django models that ``makemigrations``
and repositories see.
"""

from __future__ import annotations

from loom_django.etl.models import EtlLock, EtlPipelineRun, EtlProcessRun, EtlStepRun
from loom_django.orm.mapping import import_discovery_modules
from loom_django.streaming.models import StreamInbox

__all__ = ["EtlLock", "EtlPipelineRun", "EtlProcessRun", "EtlStepRun", "StreamInbox"]

import_discovery_modules()
