"""Use cases that write and dispatch, to test dispatch timing against transactions."""

from __future__ import annotations

from loom_django.core.command import Command
from loom_django.core.errors import Conflict
from loom_django.core.job.service import JobService
from loom_django.core.response import Response
from loom_django.core.use_case import Input
from loom_django.core.use_case.invoker import ApplicationInvoker
from loom_django.core.use_case.use_case import UseCase
from tests.jobsapp.callbacks import CategoryCallback
from tests.jobsapp.jobs import CountRecordsJob, RestockEmailJob
from tests.jobsapp.models import JobRecord
from tests.testapp.models import Product


class CreateRecord(Command, frozen=True):
    name: str


class CreateRecordUseCase(UseCase[JobRecord, JobRecord]):
    """Insert one record."""

    async def execute(self, cmd: CreateRecord = Input()) -> JobRecord:
        return await self.main_repo.create(cmd)


class WriteAndDispatch(Command, frozen=True):
    name: str
    fail: bool = False


class WriteAndDispatchUseCase(UseCase[JobRecord, str]):
    """Insert a record, dispatch a job that counts it, then fail if asked."""

    def __init__(self, jobs: JobService) -> None:
        self._jobs = jobs

    async def execute(self, cmd: WriteAndDispatch = Input()) -> str:
        await self.main_repo.create(CreateRecord(name=cmd.name))
        handle = self._jobs.dispatch(CountRecordsJob, params={"name": cmd.name})
        if cmd.fail:
            raise Conflict("failed after dispatch")
        return handle.job_id


class NestedDispatch(Command, frozen=True):
    name: str
    fail_outer: bool = False


class NestedDispatchUseCase(UseCase[JobRecord, str]):
    """Invoke ``WriteAndDispatchUseCase`` (which dispatches), then fail if asked."""

    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    async def execute(self, cmd: NestedDispatch = Input()) -> str:
        job_id: str = await self._app.invoke(WriteAndDispatchUseCase, payload={"name": cmd.name})
        if cmd.fail_outer:
            raise Conflict("outer failed")
        return job_id


class ReadOnlyDispatchUseCase(UseCase[JobRecord, str]):
    """A read-only use case (no transaction) that dispatches."""

    read_only = True

    def __init__(self, jobs: JobService) -> None:
        self._jobs = jobs

    async def execute(self, name: str) -> str:
        return self._jobs.dispatch(CountRecordsJob, params={"name": name}).job_id


class RestockRequest(Command, frozen=True):
    recipient_email: str
    force_fail: bool = False


class DispatchAccepted(Response, frozen=True):
    job_id: str
    queue: str


class DispatchRestockUseCase(UseCase[Product, DispatchAccepted]):
    """The seed's restock-email dispatch, with the category callbacks."""

    def __init__(self, jobs: JobService) -> None:
        self._jobs = jobs

    async def execute(self, product_id: int, cmd: RestockRequest = Input()) -> DispatchAccepted:
        handle = self._jobs.dispatch(
            RestockEmailJob,
            params={"product_id": product_id},
            payload={
                "product_id": product_id,
                "recipient_email": cmd.recipient_email,
                "force_fail": cmd.force_fail,
            },
            on_success=CategoryCallback,
            on_failure=CategoryCallback,
        )
        return DispatchAccepted(job_id=handle.job_id, queue=handle.queue)
