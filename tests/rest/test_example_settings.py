"""Safe defaults of the example project (issue 10 item 7): DEBUG off unless asked for, a
per-checkout generated SECRET_KEY, no debug page for a foreign Host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rest.servers import EXAMPLE, ROOT

pytestmark = pytest.mark.slow


def _settings(tmp_path: Path, **env: str) -> dict[str, str]:
    script = (
        "import json, config.settings as s; "
        "print(json.dumps({'DEBUG': s.DEBUG, 'SECRET_KEY': s.SECRET_KEY}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update(
        PYTHONPATH=os.pathsep.join([str(EXAMPLE), str(ROOT)]),
        CELERY_BROKER_DIR=str(tmp_path / "broker"),
        **env,
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=EXAMPLE, env=base, check=True, capture_output=True
    )
    import json

    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def test_debug_is_off_unless_asked_for(tmp_path):
    assert _settings(tmp_path)["DEBUG"] is False
    assert _settings(tmp_path, DJANGO_DEBUG="true")["DEBUG"] is True


def test_the_dev_secret_key_is_generated_per_checkout_and_stable(tmp_path):
    first = _settings(tmp_path)["SECRET_KEY"]
    assert first == _settings(tmp_path)["SECRET_KEY"]
    assert first != "example-store-insecure-dev-key"
    assert len(first) >= 50
    assert (EXAMPLE / "var" / "secret_key").read_text().strip() == first
    assert _settings(tmp_path, DJANGO_SECRET_KEY="from-env")["SECRET_KEY"] == "from-env"


def test_demo_script_asks_for_debug():
    assert 'DJANGO_DEBUG="${DJANGO_DEBUG:-true}"' in (ROOT / "scripts" / "demo.sh").read_text()


def test_a_foreign_host_gets_no_debug_page(tmp_path):
    from tests.rest.servers import example_database, migrate, run_server

    with example_database() as url:
        migrate(url)
        with run_server("uvicorn", url) as server:
            reply = server.get("/users/", headers={"Host": "evil.example"})
    assert reply.status == 400
    assert b"Traceback" not in reply.content
    assert b"DisallowedHost" not in reply.content
