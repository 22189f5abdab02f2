"""Loom models written by the test jobs and callbacks (tables created without migrations)."""

from __future__ import annotations

from loom_django.core.model import BaseModel, ColumnField


class JobRecord(BaseModel):
    __tablename__ = "jobs_records"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    name: str = ColumnField(length=120, index=True)


class CallbackLog(BaseModel):
    __tablename__ = "jobs_callback_logs"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    job_id: str = ColumnField(length=80, index=True)
    kind: str = ColumnField(length=40)
    detail: str = ColumnField(default="")
