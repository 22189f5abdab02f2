"""Run history of ETL pipelines in the Django database (app ``loom_django``), and the run lock."""

from __future__ import annotations

from django.db import models

__all__ = ["EtlAuditFields", "EtlLock", "EtlPipelineRun", "EtlProcessRun", "EtlStepRun"]

_STATUSES = [
    ("running", "running"),
    ("success", "success"),
    ("failed", "failed"),
    ("interrupted", "interrupted"),
    ("abandoned", "abandoned"),
]


class EtlPipelineRun(models.Model):
    """One run of a pipeline; inserted as ``running`` when it starts."""

    run_id = models.UUIDField(primary_key=True)
    pipeline = models.CharField(max_length=200, db_index=True)
    pipeline_class = models.CharField(max_length=300)
    params = models.JSONField(default=dict)
    backend = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=_STATUSES)
    attempt = models.PositiveIntegerField(default=1)
    last_attempt = models.BooleanField(default=True)
    correlation_id = models.CharField(max_length=200, null=True, blank=True, db_index=True)
    include = models.JSONField(null=True, blank=True)
    trigger = models.CharField(max_length=20, default="cli")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField()
    duration_ms = models.FloatField(null=True, blank=True)
    rows_written = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    error_type = models.CharField(max_length=200, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    failed_step = models.CharField(max_length=200, blank=True, default="")
    failed_step_run_id = models.UUIDField(null=True, blank=True)
    host = models.CharField(max_length=200, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)
    loom_django_version = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        app_label = "loom_django"
        db_table = "loom_etl_pipeline_run"
        indexes = [
            models.Index(fields=["pipeline", "-started_at"], name="loom_etl_run_pipe_started"),
            models.Index(fields=["status"], name="loom_etl_run_status"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline} {self.run_id} {self.status}"


class EtlProcessRun(models.Model):
    """One process execution inside a run."""

    process_run_id = models.UUIDField(primary_key=True)
    run = models.ForeignKey(EtlPipelineRun, on_delete=models.CASCADE, related_name="processes")
    process = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=_STATUSES)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    error_type = models.CharField(max_length=200, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    failed_step = models.CharField(max_length=200, blank=True, default="")
    failed_step_run_id = models.UUIDField(null=True, blank=True)

    class Meta:
        app_label = "loom_django"
        db_table = "loom_etl_process_run"

    def __str__(self) -> str:
        return f"{self.process} {self.status}"


class EtlStepRun(models.Model):
    """One step execution inside a run."""

    step_run_id = models.UUIDField(primary_key=True)
    run = models.ForeignKey(EtlPipelineRun, on_delete=models.CASCADE, related_name="steps")
    process_run = models.ForeignKey(
        EtlProcessRun, on_delete=models.CASCADE, null=True, blank=True, related_name="steps"
    )
    step = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=_STATUSES)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    target = models.CharField(max_length=300, blank=True, default="")
    write_mode = models.CharField(max_length=40, blank=True, default="")
    rows_written = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    metrics = models.JSONField(default=dict)
    error_type = models.CharField(max_length=200, blank=True, default="")
    error_message = models.TextField(blank=True, default="")

    class Meta:
        app_label = "loom_django"
        db_table = "loom_etl_step_run"

    def __str__(self) -> str:
        return f"{self.step} {self.status}"


class EtlLock(models.Model):
    """A held pipeline lock (one row per key), deleted on release."""

    key = models.CharField(max_length=200, primary_key=True)
    run_id = models.UUIDField()
    acquired_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    host = models.CharField(max_length=200, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)

    class Meta:
        app_label = "loom_django"
        db_table = "loom_etl_lock"

    def __str__(self) -> str:
        return f"{self.key} held by {self.run_id}"


class EtlAuditFields(models.Model):
    """Abstract mixin: the audit columns the ETL writes into a model when ``audit.enabled``.

    A target model without these fields gets no audit columns (and one warning).
    """

    _loom_run_id = models.CharField(max_length=36, null=True, blank=True, editable=False)
    _loom_step = models.CharField(max_length=200, null=True, blank=True, editable=False)
    _loom_attempt = models.IntegerField(null=True, blank=True, editable=False)
    _loom_process_run_id = models.CharField(max_length=36, null=True, blank=True, editable=False)

    class Meta:
        abstract = True
