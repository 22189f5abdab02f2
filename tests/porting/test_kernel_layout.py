"""Issue 11 items 3 and 6: a loom-kernel app in kernel layout ported by docs/porting.md's steps.

``kernel_store/`` is kernel code (``loom.`` imports, models in ``app/<feature>/model.py``,
``modules`` discovery, kernel YAML, ``worker_main.py``). The test copies it, runs the page's
blocks (rename, Django host files, makemigrations, migrate, check) and then serves requests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.blocks import run_page, shell_env

KERNEL_STORE = Path(__file__).parent / "kernel_store"

_REQUESTS = """
import json
import django
django.setup()
from django.apps import apps
from django.test import Client

client = Client()
out = {"models": sorted(m.__name__ for m in apps.get_app_config("app").get_models())}
created = client.post("/users/", {"fullName": "Ann Lee", "email": "ann@example.com"},
                      content_type="application/json")
out["create_user"] = [created.status_code, created.json()]
bad = client.post("/users/", {"fullName": " ", "email": "nope"}, content_type="application/json")
out["bad_user"] = [bad.status_code, [v["field"] for v in bad.json()["detail"]["violations"]]]
out["list_users"] = client.get("/users/").json()
product = client.post("/products/", {"sku": "K-1", "name": "Keyboard", "priceCents": 9900,
                      "stock": 2}, content_type="application/json")
out["create_product"] = product.status_code
out["list_products"] = client.get("/products/").json()
out["metrics"] = client.get("/metrics").status_code
print(json.dumps(out))
"""

_WORKER = """
import json
import worker_main
names = sorted(n for n in worker_main.celery_app.tasks if n.startswith("loom."))
print(json.dumps(names))
"""


def _python(root: Path, code: str) -> str:
    env = {**shell_env(), "DJANGO_SETTINGS_MODULE": "project.settings", "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def ported(tmp_path: Path) -> Path:
    shutil.copytree(KERNEL_STORE, tmp_path, dirs_exist_ok=True)
    assert "from loom.core" in (tmp_path / "src/app/user/model.py").read_text()
    run_page("porting.md", tmp_path)
    return tmp_path


def test_kernel_layout_app_ports_with_the_guide_and_serves_requests(ported):
    assert "from loom_django.core" in (ported / "src/app/user/model.py").read_text()
    assert (ported / "src/app/migrations/0001_initial.py").exists()
    out = json.loads(_python(ported, _REQUESTS))
    assert out["models"] == ["Product", "User"]
    assert out["create_user"][0] == 201
    assert out["create_user"][1]["fullName"] == "Ann Lee"
    assert out["bad_user"] == [422, ["full_name", "email"]]
    assert out["list_users"]["totalCount"] == 1
    assert out["create_product"] == 201
    assert [p["sku"] for p in out["list_products"]["items"]] == ["K-1"]
    assert out["metrics"] == 200


def test_kernel_worker_main_builds_its_celery_app(ported):
    names = json.loads(_python(ported, _WORKER))
    assert "loom.job.BuildProductSummaryJob" in names


def _manage(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**shell_env(), "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_forgetting_loom_django_in_installed_apps_says_so(ported):
    settings = ported / "project" / "settings.py"
    settings.write_text(settings.read_text().replace('    "loom_django",\n', ""))
    result = _manage(ported, "check")
    assert result.returncode != 0
    assert "'loom_django' is missing from INSTALLED_APPS" in result.stderr


def test_check_names_a_discovered_loom_model_that_cannot_be_mapped(ported):
    (ported / "src" / "extras").mkdir()
    (ported / "src" / "extras" / "__init__.py").write_text("")
    (ported / "src" / "extras" / "model.py").write_text(
        "from loom_django.core.model import BaseModel, ColumnField\n\n\n"
        "class Coupon(BaseModel):\n"
        '    __tablename__ = "coupons"\n'
        "    id: int = ColumnField(primary_key=True, autoincrement=True)\n"
    )
    config = ported / "config" / "api.yaml"
    config.write_text(
        config.read_text().replace(
            "- app.product.jobs", "- app.product.jobs\n        - extras.model"
        )
    )
    result = _manage(ported, "check")
    assert result.returncode != 0
    assert "loom_django.E200" in result.stderr
    assert "Coupon (extras.model) is not inside an installed Django app" in result.stderr
