"""Run the example project under a real server (uvicorn, gunicorn, runserver) for tests."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"
BIN = Path(sys.executable).parent


@dataclass
class Reply:
    """One HTTP response: status, headers (lower-case keys) and raw body."""

    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class Server:
    """A running example-project server; ``request`` talks to it over loopback."""

    def __init__(self, base: str) -> None:
        self.base = base

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = (
            raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
        )
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Connection", "close")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return Reply(response.status, _lower(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, _lower(error.headers), error.read())

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, payload: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, payload, **kw)

    def patch(self, path: str, payload: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, payload, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def example_database() -> Iterator[str]:
    """A fresh database URL for the example project: SQLite file, or a new PostgreSQL DB
    on the server of ``DATABASE_URL`` when the suite runs on PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, _, _ = url.rpartition("/")
        name = f"loom_store_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{base}/{name}"
        finally:
            with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/store.sqlite3"


_BROKER_DIR = tempfile.mkdtemp(prefix="loom-rest-broker-")


def _env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        # Jobs dispatched by these servers go to a throwaway broker folder, never to the
        # demo's example_project/var/broker.
        CELERY_BROKER_DIR=_BROKER_DIR,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="false",
        PYTHONPATH=os.pathsep.join([str(EXAMPLE), str(ROOT)]),
    )
    return env


def migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=EXAMPLE,
        env=_env(database_url),
        check=True,
        timeout=180,
    )


def _command(kind: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            "config.asgi:application",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    if kind == "gunicorn":
        return [
            str(BIN / "gunicorn"),
            "config.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--log-level",
            "warning",
        ]
    if kind == "runserver":
        return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    raise ValueError(kind)


@contextlib.contextmanager
def run_server(kind: str, database_url: str) -> Iterator[Server]:
    """Start the example project under ``kind`` and stop it afterwards."""
    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        _command(kind, port), cwd=EXAMPLE, env=_env(database_url), stdout=log, stderr=log
    )
    server = Server(f"http://127.0.0.1:{port}/api")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if server.get("/openapi.json").status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"{kind} did not start:\n{log.read().decode()[-4000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
