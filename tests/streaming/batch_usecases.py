"""Use cases for the batch-transaction and batched-bridged tests: one that fails once for a
given name (a transient database error), and flows feeding batches through ``With``."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import OperationalError

from loom_django.core.use_case import Input
from loom_django.core.use_case.use_case import UseCase
from tests.jobsapp.models import JobRecord
from tests.streaming.usecases import Named


class FailsOnceForUseCase(UseCase[JobRecord, JobRecord]):
    """Inserts a record; the first execution for the name ``fail_name`` inserts and then
    raises ``OperationalError`` (its insert must be rolled back). Records each name run."""

    fail_name: ClassVar[str] = ""
    calls: ClassVar[list[str]] = []

    async def execute(self, cmd: Named = Input()) -> JobRecord:
        type(self).calls.append(cmd.name)
        created = await self.main_repo.create(cmd)
        if cmd.name == type(self).fail_name:
            type(self).fail_name = ""
            raise OperationalError("server closed the connection unexpectedly")
        return created


def with_flow(step: Any, *, batch: int | None = None, name: str = "uc-with") -> Any:
    """The plan of ``in → [CollectBatch(batch)] → With(step, IntoTopic("out"))``, errors to
    ``errors``."""
    from loom_django.runtime import get_runtime
    from loom_django.streaming import (
        CollectBatch,
        FromTopic,
        IntoTopic,
        Process,
        StreamFlow,
        With,
        compile_flow,
    )
    from tests.streaming.flows import kafka_config
    from tests.streaming.usecases import NameRequested

    nodes: list[Any] = [] if batch is None else [CollectBatch(max_records=batch, timeout_ms=50)]
    nodes.append(With(process=Process(step, IntoTopic("out"))))
    flow = StreamFlow(
        name, FromTopic("in", payload=NameRequested), Process(*nodes), errors=IntoTopic("errors")
    )
    return compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler)
