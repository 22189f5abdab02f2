"""Django models of the ``loom_django`` app: the ETL door's run history and run lock."""

from __future__ import annotations

from loom_django.etl.models import EtlLock, EtlPipelineRun, EtlProcessRun, EtlStepRun

__all__ = ["EtlLock", "EtlPipelineRun", "EtlProcessRun", "EtlStepRun"]
