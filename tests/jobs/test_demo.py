"""The demo (scripts/demo.sh): web server and worker on the filesystem broker, store jobs.

Runs the store's job routes (shared/spec/store.md §7) end to end: the README's demo
command, a real worker, no broker server, results in the demo's SQLite database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.support import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Demo:
    base: str
    env: dict[str, str]
    workdir: Path

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    workdir = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'store.sqlite3'}",
        "CELERY_BROKER_DIR": str(workdir / "broker"),
        "DEMO_PORT": str(port),
        "DJANGO_DEBUG": "false",
    }
    env.pop("CELERY_BROKER_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = (workdir / "demo.log").open("wb")
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "demo.sh")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    demo = Demo(f"http://127.0.0.1:{port}/api", env, workdir)
    try:

        def up() -> bool:
            try:
                return demo.call("GET", "/openapi.json")[0] == 200
            except OSError:
                return False

        try:
            wait_for(up, timeout=120, interval=0.3)
        except AssertionError:
            raise AssertionError((workdir / "demo.log").read_text()) from None
        yield demo
    finally:
        # What Ctrl-C does: SIGINT to the group; demo.sh's trap then stops its worker.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
            _wait_for_group_exit(process.pid, timeout=30)
        except (subprocess.TimeoutExpired, AssertionError):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_for_group_exit(pgid: int, timeout: float) -> None:
    def gone() -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, timeout=timeout, interval=0.2)


def _product(demo: Demo, stock: int) -> dict[str, Any]:
    status, body = demo.call(
        "POST",
        "/products/",
        {
            "sku": f"DEMO-{uuid.uuid4().hex[:8]}",
            "name": "Drill",
            "category": "tools",
            "price_cents": 1999,
            "stock": stock,
        },
    )
    assert status == 201, body
    return body


def _category(demo: Demo, product_id: int) -> str:
    return str(demo.call("GET", f"/products/{product_id}")[1]["category"])


def _job(demo: Demo, job_id: str) -> dict[str, Any]:
    return demo.call("GET", f"/jobs/{job_id}")[1]


def test_a_dispatched_job_completes_and_its_status_shows_success(demo):
    product = _product(demo, stock=0)
    status, body = demo.call(
        "POST", f"/products/{product['id']}/jobs/restock-email", {"recipientEmail": "a@b.c"}
    )
    assert status == 202
    assert body["queue"] == "notifications"
    assert uuid.UUID(body["jobId"]).version == 4
    done = wait_for(lambda: _job(demo, body["jobId"])["status"] == "SUCCESS", timeout=30)
    assert done
    job = _job(demo, body["jobId"])
    assert (job["job"], job["taskName"], job["result"]) == (
        "SendRestockEmailJob",
        "loom.job.SendRestockEmailJob",
        True,
    )
    wait_for(lambda: _category(demo, product["id"]) == "tools-restock-notified", timeout=15)
    status, again = demo.call(
        "POST", f"/products/{product['id']}/jobs/restock-email", {"recipientEmail": "a@b.c"}
    )
    wait_for(lambda: _job(demo, again["jobId"])["status"] == "SUCCESS", timeout=30)
    time.sleep(1)
    assert _category(demo, product["id"]) == "tools-restock-notified"


def test_in_stock_products_get_no_email_and_failures_mark_the_category(demo):
    stocked = _product(demo, stock=4)
    _, body = demo.call(
        "POST", f"/products/{stocked['id']}/jobs/restock-email", {"recipientEmail": "a@b.c"}
    )
    wait_for(lambda: _job(demo, body["jobId"])["status"] == "SUCCESS", timeout=30)
    assert _job(demo, body["jobId"])["result"] is False
    failing = _product(demo, stock=0)
    started = time.monotonic()
    _, body = demo.call(
        "POST",
        f"/products/{failing['id']}/jobs/restock-email",
        {"recipient_email": "a@b.c", "force_fail": True},
    )
    wait_for(lambda: _category(demo, failing["id"]) == "tools-restock-failed", timeout=30)
    assert time.monotonic() - started > 2.5
    job = _job(demo, body["jobId"])
    assert job["status"] == "FAILURE"
    assert job["error"] == {"type": "RuntimeError", "message": "forced restock email failure"}
    assert _category(demo, stocked["id"]) == "tools"


def test_summary_workflow_and_erp_sync(demo):
    product = _product(demo, stock=0)
    pid = product["id"]
    expected = (
        f"Product {product['sku']} (Drill) in category tools costs 1999 cents and is out of stock."
    )
    assert demo.call("GET", f"/products/{pid}/jobs/summary") == (
        200,
        {"productId": pid, "summary": expected},
    )
    assert demo.call("GET", "/products/999999/jobs/summary")[0] == 404
    status, body = demo.call(
        "POST", f"/products/{pid}/workflows/restock", {"recipientEmail": "a@b.c"}
    )
    assert status == 202
    assert (body["summary"], body["queue"]) == (expected, "notifications")
    wait_for(lambda: _job(demo, body["restockJobId"])["status"] == "SUCCESS", timeout=30)
    assert (
        demo.call("POST", "/products/999999/workflows/restock", {"recipientEmail": "x@y.z"})[0]
        == 404
    )
    assert (
        demo.call("POST", "/products/999999/jobs/restock-email", {"recipientEmail": "x@y.z"})[0]
        == 404
    )
    status, body = demo.call("POST", "/products/jobs/sync-erp", {"productIds": []})
    assert status == 422
    assert body["detail"]["violations"] == [
        {"field": "product_ids", "message": "product_ids must include at least one product"}
    ]
    status, body = demo.call(
        "POST", "/products/jobs/sync-erp", {"productIds": [pid, pid], "forceFailIds": []}
    )
    assert status == 202
    assert body["dispatched"] == 2 and len(set(body["jobIds"])) == 2
    for job_id in body["jobIds"]:
        wait_for(lambda job_id=job_id: _job(demo, job_id)["status"] == "SUCCESS", timeout=30)


def test_the_worker_lists_the_store_tasks(demo):
    env = {**demo.env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "inspect", "registered", "-j", "-t", "5"],
        cwd=ROOT / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    names = {name for worker in json.loads(out).values() for name in worker}
    assert {
        "loom.job.SendRestockEmailJob",
        "loom.job.BuildProductSummaryJob",
        "loom.job.SyncProductToErpJob",
        "loom.callback.RestockEmailSuccessCallback",
        "loom.callback_error.RestockEmailSuccessCallback",
        "loom.callback.RestockEmailFailureCallback",
        "loom.callback_error.RestockEmailFailureCallback",
    } <= names
