"""Checks instead of tracebacks (issue 11 items 2-3) and the check ids of issue 12 item 5."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loom_django.conf import conf, settings_problems
from tests.orm.project import ROOT, write_project

URLS = """
from django.urls import path
from loom_django.rest.ninja import get_api

urlpatterns = [path("api/", get_api().urls)]
"""

BROKEN_USE_CASES = """
from typing import Any

from loom_django.core.command import Command
from loom_django.core.use_case import Input, UseCase


class Greeting(Command, frozen=True):
    name: str


class BrokenGreetingUseCase(UseCase[Any, Any]):
    def execute(self, first: Greeting = Input(), second: Greeting = Input()) -> None: ...
"""

JOBS = """
from typing import Any

from loom_django.core.job.job import Job


class PingJob(Job[Any]):
    def execute(self) -> None: ...
"""


def _project(tmp_path: Path, settings: str = "", **files: str) -> Path:
    extra = {f"shop/{name}.py": text for name, text in files.items()}
    root = write_project(tmp_path, "", extra)
    if settings:
        settings_file = root / "proj_settings.py"
        settings_file.write_text(settings_file.read_text() + settings)
    return root


def _manage(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py <args>`` of the project in ``root``."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proj_settings",
        "PYTHONPATH": os.pathsep.join([str(root), str(ROOT)]),
    }
    env.pop("DATABASE_URL", None)
    code = "import sys; from django.core.management import execute_from_command_line as run\n"
    code += "run(['manage.py', *sys.argv[1:]])\n"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _check(root: Path) -> str:
    result = _manage(root, "check")
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return output


def test_a_broken_use_case_is_E100_even_when_urls_py_builds_the_api(tmp_path):
    root = _project(tmp_path, 'ROOT_URLCONF = "shop.urls"\n', urls=URLS, use_cases=BROKEN_USE_CASES)
    output = _check(root)
    assert "loom_django.E100" in output
    assert "BrokenGreetingUseCase.execute" in output


def test_a_missing_config_file_is_E004_not_a_traceback(tmp_path):
    root = _project(tmp_path, 'LOOM = {"CONFIG_FILES": ["missing.yaml"]}\n')
    output = _check(root)
    assert "loom_django.E004" in output
    assert "missing.yaml" in output


def test_a_missing_modules_entry_is_E006_not_a_traceback(tmp_path):
    root = _project(tmp_path, 'LOOM = {"MODULES": ["shop.nowhere"]}\n')
    output = _check(root)
    assert "loom_django.E006" in output
    assert "shop.nowhere" in output


def test_no_broker_warning_without_jobs(tmp_path):
    result = _manage(_project(tmp_path), "check")
    assert result.returncode == 0, result.stderr
    assert "No Celery broker configured" not in result.stdout + result.stderr


def test_the_broker_warning_with_jobs_gives_the_settings_form(tmp_path):
    result = _manage(_project(tmp_path, jobs=JOBS), "check")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "No Celery broker configured" in output
    assert 'CELERY_BROKER_URL = "redis://' in output
    assert "settings.py" in output


@pytest.mark.parametrize(
    ("config", "check_id", "name"),
    [
        ({"cache": {"ttl": 60}}, "loom_django.W012", "cache"),
        ({"logger": {"level": "INFO"}}, "loom_django.W013", "logger"),
        ({"database": {"url": "sqlite://", "pool_pre_ping": True}}, "loom_django.W014", "pool"),
    ],
)
def test_kernel_sections_that_do_nothing_here_are_named_by_a_warning(
    settings, config, check_id, name
):
    settings.LOOM = {"CONFIG": config}
    [problem] = [p for p in settings_problems() if p.id.startswith("loom_django.W")]
    assert problem.id == check_id
    assert name in problem.msg
    assert problem.hint


def test_each_etl_setting_has_its_own_id(settings):
    settings.LOOM = {"ETL_PIPELINES": 1, "ETL_AUTODISCOVER": 2, "ETL_BACKENDS": 3}
    ids = [p.id for p in settings_problems()]
    assert ids == ["loom_django.E009", "loom_django.E010", "loom_django.E011"]


def test_a_string_modules_is_one_path_not_characters(settings):
    settings.LOOM = {"MODULES": "tests.app.good_use_cases"}
    assert conf.MODULES == ("tests.app.good_use_cases",)
    assert "loom_django.E006" in [p.id for p in settings_problems()]


def test_the_yaml_is_merged_once_per_snapshot_and_again_after_setting_changed(
    settings, tmp_path, monkeypatch
):
    import loom_django.conf as conf_module
    from loom_django.runtime import build_django_runtime

    config = tmp_path / "loom.yaml"
    config.write_text("app:\n  rest:\n    title: Once\n")
    calls = []
    real = conf_module.load_config
    monkeypatch.setattr(conf_module, "load_config", lambda *f: calls.append(f) or real(*f))
    settings.LOOM = {"CONFIG_FILES": [str(config)]}
    build_django_runtime()
    settings_problems()
    assert conf.loom_config().app.rest.title == "Once"
    assert len(calls) == 1
    config.write_text("app:\n  rest:\n    title: Twice\n")
    settings.LOOM = {"CONFIG_FILES": [str(config)], "CONFIG": {}}
    assert conf.loom_config().app.rest.title == "Twice"
    assert len(calls) == 2


def test_every_door_check_is_registered_whatever_the_backend():
    from django.core.checks import registry

    from loom_django.celery.checks import check_result_backend
    from loom_django.orm.checks import check_mapping
    from loom_django.rest.checks import check_interfaces

    registered = registry.registry.registered_checks
    assert {check_result_backend, check_mapping, check_interfaces} <= registered
