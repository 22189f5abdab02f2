"""Backend selection and configuration precedence (spec §4.1, §7.1; §12 items 60, 61)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loom_django.etl.backends import GROUP, BackendError, get_provider
from loom_django.etl.models import EtlPipelineRun
from tests.etl import echo_backend
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db
OK = "tests.etl.pipelines.BooksPipeline"
DATE = ("-p", "run_date=2026-03-30", "--progress", "none")


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("loom_etl", "run", OK, *DATE, *args, stdout=out)
    return out.getvalue()


def _exit(*args: str) -> CommandError:
    with pytest.raises(CommandError) as info:
        _run(*args)
    return info.value


def _distribution(root: Path, name: str, target: str) -> None:
    """Install a minimal distribution registering ``echo`` in the backends group."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\necho = {target}\n")


@pytest.fixture
def echo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _distribution(tmp_path, "loom_etl_echo", "tests.etl.echo_backend:EchoProvider")
    monkeypatch.syspath_prepend(str(tmp_path))
    echo_backend.LOADS.clear()
    return tmp_path


def test_a_third_party_entry_point_is_selectable_by_name(echo):
    """etl §12.60: a provider registered under a new name in ``loom.etl.backends`` runs."""
    _run("--backend", "echo")
    assert echo_backend.LOADS == ["echo"]
    assert Book.objects.count() == 1
    assert EtlPipelineRun.objects.get().backend == "echo"


def test_the_backend_flag_beats_the_config_engine_which_beats_the_default(echo, settings):
    """etl §12.60: ``--backend`` → ``engine`` from config → ``polars``."""
    _run()
    assert EtlPipelineRun.objects.latest("started_at").backend == "polars"
    _run("--set", "engine=echo")
    assert EtlPipelineRun.objects.latest("started_at").backend == "echo"
    _run("--set", "engine=echo", "--backend", "polars")
    assert EtlPipelineRun.objects.latest("started_at").backend == "polars"
    assert echo_backend.LOADS == ["echo"]


def test_an_unknown_backend_exits_3_listing_the_registered_names(echo):
    """etl §12.60."""
    error = _exit("--backend", "flink")
    assert error.returncode == 3
    assert "'flink'" in str(error) and "['echo', 'polars', 'spark']" in str(error)


def test_a_name_registered_twice_exits_3_until_a_setting_pins_one(echo, settings):
    """etl §7.1: two distributions under one name are an error naming both; a pin picks."""
    _distribution(echo, "loom_etl_other", "tests.etl.echo_backend:OtherEchoProvider")
    error = _exit("--backend", "echo")
    assert error.returncode == 3 and "OtherEchoProvider" in str(error)
    assert "ETL_BACKENDS" in str(error)
    settings.LOOM = {"ETL_BACKENDS": {"echo": "tests.etl.echo_backend.OtherEchoProvider"}}
    _run("--backend", "echo")
    assert echo_backend.LOADS == ["echo-other"]


def test_the_builtins_are_registered_as_entry_points():
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    assert names["polars"] == "loom_django.etl.backends:PolarsProvider"
    assert get_provider("spark").name == "spark"
    with pytest.raises(BackendError, match="registered"):
        get_provider("nope")


def test_spark_without_pyspark_exits_3_naming_the_extra(monkeypatch):
    """etl §12.61."""
    monkeypatch.setitem(sys.modules, "pyspark", None)
    error = _exit("--backend", "spark")
    assert error.returncode == 3 and "loom-django[spark]" in str(error)


def test_a_polars_run_never_imports_pyspark(tmp_path):
    """etl §12.61: checked in a fresh interpreter."""
    code = f"""
import sys, django
django.setup()
from tests.etl.test_execution import _pipe, _step, P
from loom_django.etl import Format, IntoFile
from django.conf import settings
settings.BASE_DIR = {str(tmp_path)!r}
result = __import__("loom_django.etl.runner", fromlist=["x"]).ETLRunner().run(
    _pipe(_step("A", IntoFile("a.csv", format=Format.CSV))), P())
assert result.status == "success"
print("pyspark" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_config_files_merge_left_to_right_and_set_wins(tmp_path):
    """etl §4.1: ``--config`` files (left to right), then ``--set``, then flags."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("etl:\n  max_workers: 2\n  history: {enabled: false}\n")
    second.write_text("etl:\n  max_workers: 3\n")
    from loom_django.etl.config import load_config

    assert load_config(files=[str(first), str(second)]).max_workers == 3
    merged = load_config(files=[str(first)], dotlist=["max_workers=5", "etl.lock.enabled=false"])
    assert (merged.max_workers, merged.lock.enabled, merged.history.enabled) == (5, False, False)
    _run("--config", str(first))
    assert not EtlPipelineRun.objects.exists()  # history disabled by the file


def test_bad_overrides_exit_2_or_3():
    assert _exit("--set", "no_equals_sign").returncode == 2
    error = _exit("--set", "history.enabld=false")
    assert error.returncode == 3 and "enabld" in str(error)
    assert _exit("--config", "/no/such.yaml").returncode == 3


def test_a_streaming_step_on_a_backend_without_read_streaming_is_a_type_error(settings):
    """etl §12.40: never a silent fallback to ``read``."""
    import polars as pl

    from loom_django.etl import ETLStep, Format, IntoFile
    from loom_django.etl.runner import ETLRunner
    from tests.etl.test_execution import P, _pipe

    class Streamed(ETLStep[P]):
        streaming = True
        target = IntoFile("s.csv", format=Format.CSV)

        def execute(self, params: P) -> pl.LazyFrame:
            return pl.LazyFrame({"x": [1]})

    settings.LOOM = {"ETL_BACKENDS": {"batch-only": "tests.etl.echo_backend.BatchOnlyProvider"}}
    with pytest.raises(TypeError, match="StreamingSourceReader"):
        ETLRunner(backend="batch-only").run(_pipe(Streamed), P())


def test_a_pin_that_cannot_be_imported_exits_3(settings):
    settings.LOOM = {"ETL_BACKENDS": {"duck": "tests.etl.echo_backend.NoSuchProvider"}}
    error = _exit("--backend", "duck")
    assert error.returncode == 3 and "cannot be loaded" in str(error)
