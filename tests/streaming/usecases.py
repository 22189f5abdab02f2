"""Use cases the stream use-case tests run: rules, a use case needing an event loop, database
failures (operational and integrity), and probes recording the thread the ORM ran on."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, ClassVar

import msgspec
from asgiref.sync import sync_to_async
from django.db import IntegrityError, OperationalError, connection

from loom_django.core.command import Command
from loom_django.core.use_case import F, Input, Rule
from loom_django.core.use_case.use_case import UseCase
from loom_django.orm.mapping import django_model_for
from tests.jobsapp.models import JobRecord


class Named(Command, frozen=True):
    name: str


class NameRequested(msgspec.Struct, frozen=True):
    name: str


class NameAccepted(msgspec.Struct, frozen=True):
    id: int
    name: str


def _not_blank(name: str) -> str | None:
    return None if name.strip() else "name must not be blank"


class CreateNamedUseCase(UseCase[JobRecord, JobRecord]):
    """Insert a record whose name is not blank (a rule)."""

    rules = [Rule.check(F(Named).name, via=_not_blank)]

    async def execute(self, cmd: Named = Input()) -> JobRecord:
        return await self.main_repo.create(cmd)


def _probe() -> tuple[int, bool]:
    return threading.get_ident(), connection.in_atomic_block


class AsyncOrmUseCase(UseCase[JobRecord, JobRecord]):
    """Insert a record, then call Django's async ORM (needs an event loop): counts its runs
    and records where the ORM ran (thread, inside the transaction)."""

    runs: ClassVar[int] = 0
    probes: ClassVar[list[tuple[int, bool]]] = []
    loops: ClassVar[list[bool]] = []

    async def execute(self, cmd: Named = Input()) -> JobRecord:
        type(self).runs += 1
        type(self).loops.append(asyncio._get_running_loop() is not None)
        created = await self.main_repo.create(cmd)
        await django_model_for(JobRecord).objects.filter(name=cmd.name).acount()
        type(self).probes.append(await sync_to_async(_probe, thread_sensitive=True)())
        return created


class SleepyUseCase(UseCase[JobRecord, JobRecord]):
    """Insert a record, then sleep on the event loop (a real suspension)."""

    async def execute(self, cmd: Named = Input()) -> JobRecord:
        created = await self.main_repo.create(cmd)
        await asyncio.sleep(0.001)
        return created


class FlakyUseCase(UseCase[JobRecord, JobRecord]):
    """Raises ``OperationalError`` while ``failures`` is positive, then inserts."""

    failures: ClassVar[int] = 0
    calls: ClassVar[int] = 0

    async def execute(self, cmd: Named = Input()) -> JobRecord:
        type(self).calls += 1
        if type(self).failures > 0:
            type(self).failures -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return await self.main_repo.create(cmd)


class DuplicateUseCase(UseCase[JobRecord, Any]):
    """Raises Django's ``IntegrityError`` (a unique constraint), counting its calls."""

    calls: ClassVar[int] = 0

    async def execute(self, cmd: Named = Input()) -> Any:
        type(self).calls += 1
        raise IntegrityError("UNIQUE constraint failed: jobs_records.name")


# -- feeding a compiled flow -------------------------------------------------------------


def use_case_flow(step: Any, source: type[Any] = NameRequested, name: str = "uc") -> Any:
    """The plan of ``in → step → IntoTopic("out")`` with every error kind to ``errors``."""
    from loom_django.runtime import get_runtime
    from loom_django.streaming import FromTopic, IntoTopic, Process, StreamFlow, compile_flow
    from tests.streaming.flows import kafka_config

    flow = StreamFlow(
        name,
        FromTopic("in", payload=source),
        Process(step, IntoTopic("out")),
        errors=IntoTopic("errors"),
    )
    return compile_flow(flow, config=kafka_config(), compiler=get_runtime().compiler)


def feed(engine: Any, *payloads: Any, first_offset: int = 0) -> tuple[list[Any], Any]:
    """Run ``payloads`` (offsets from ``first_offset``, partition 0 of ``in``) through
    ``engine``; every emit is settled like a successful write. Returns (emits, tracker)."""
    from loom_django.streaming._runtime import RawRecord
    from loom_django.streaming.testing import envelope_bytes
    from loom_django.streaming.tracker import AckTracker

    tracker = AckTracker()
    records = []
    for i, p in enumerate(payloads, start=first_offset):
        records.append(
            RawRecord(envelope_bytes(p), None, {}, "in", 0, i, None, tracker.register("in", 0, i))
        )
    emits = engine.process(records)
    for emit in emits:
        emit.token.done()
    return emits, tracker


def engine_for(step: Any, source: type[Any] = NameRequested) -> Any:
    """A ``FlowEngine`` running ``use_case_flow(step, source)`` with the process runtime."""
    from loom_django.runtime import get_runtime
    from loom_django.streaming._runtime import FlowEngine

    return FlowEngine(use_case_flow(step, source), runtime_provider=get_runtime)
