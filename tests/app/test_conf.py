"""The typed ``settings.LOOM`` object, the merged loom config and settings validation (§15.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loom_django.conf import (
    conf,
    import_di_module,
    loom_config,
    settings_problems,
    validate_settings,
)
from loom_django.core.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def register(container) -> None:
    """A DI module entry used by the MODULES tests."""


NOT_CALLABLE = 42


def test_defaults_apply_without_loom_settings(settings):
    settings.LOOM = {}
    assert conf.CONFIG_FILES == ()
    assert conf.MODULES == ()
    assert conf.ADMIN_AUTOREGISTER is False
    assert conf.TRACE_HEADER == "X-Request-ID"
    assert conf.ETL_AUTODISCOVER is True


def test_missing_loom_setting_behaves_like_empty(settings):
    del settings.LOOM
    assert conf.raw == {}
    assert loom_config().app.name == "loom"


def test_inline_config_overrides_the_same_keys_from_files(settings, tmp_path):
    f = write(tmp_path / "api.yaml", "app: {name: from_file, rest: {title: File, version: '1'}}\n")
    settings.LOOM = {"CONFIG_FILES": [f], "CONFIG": {"app": {"rest": {"title": "Inline"}}}}
    cfg = loom_config()
    assert cfg.app.rest.title == "Inline"
    assert cfg.app.rest.version == "1"
    assert cfg.app.name == "from_file"


def test_config_files_merge_left_to_right(settings, tmp_path):
    a = write(tmp_path / "a.yaml", "app: {name: a}\n")
    b = write(tmp_path / "b.yaml", "app: {name: b}\n")
    settings.LOOM = {"CONFIG_FILES": [a, b]}
    assert loom_config().app.name == "b"


def test_loom_setting_may_be_a_yaml_path(settings, tmp_path):
    settings.LOOM = write(tmp_path / "loom.yaml", "app: {name: pathy}\n")
    assert loom_config().app.name == "pathy"


def test_relative_config_files_resolve_against_base_dir(settings, tmp_path):
    write(tmp_path / "loom.yaml", "app: {name: rel}\n")
    settings.BASE_DIR = tmp_path
    settings.LOOM = {"CONFIG_FILES": ["loom.yaml"]}
    assert conf.CONFIG_FILES == (tmp_path / "loom.yaml",)
    assert loom_config().app.name == "rel"


def test_env_interpolation_in_config_files(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("LOOM_TEST_TITLE", "From Env")
    f = write(tmp_path / "api.yaml", "app: {rest: {title: '${oc.env:LOOM_TEST_TITLE,x}'}}\n")
    settings.LOOM = {"CONFIG_FILES": [f]}
    assert loom_config().app.rest.title == "From Env"


def test_missing_config_file_raises_config_error(settings, tmp_path):
    settings.LOOM = {"CONFIG_FILES": [tmp_path / "missing.yaml"]}
    with pytest.raises(ConfigError, match="Configuration file not found"):
        loom_config()


def test_di_modules_list_yaml_modules_then_settings_modules(settings):
    settings.LOOM = {
        "CONFIG": {"app": {"modules": ["a.register", "b.register"]}},
        "MODULES": ["b.register", "c.register"],
    }
    assert conf.di_modules() == ("a.register", "b.register", "c.register")


def test_code_path_is_relative_to_the_first_config_file(settings, tmp_path):
    (tmp_path / "src").mkdir()
    settings.LOOM = {"CONFIG_FILES": [write(tmp_path / "api.yaml", "app: {name: x}\n")]}
    assert conf.code_path() == tmp_path / "src"


def test_code_path_is_none_when_the_directory_does_not_exist(settings, tmp_path):
    settings.LOOM = {"CONFIG_FILES": [write(tmp_path / "api.yaml", "app: {code_path: nope}\n")]}
    assert conf.code_path() is None


def test_import_di_module_accepts_a_dotted_callable():
    assert import_di_module("tests.app.test_conf.register") is register


def test_import_di_module_accepts_a_module_with_register():
    assert import_di_module("tests.app.test_conf") is register


# -- validation --------------------------------------------------------------------------


def test_valid_settings_have_no_problems(settings, tmp_path):
    f = write(tmp_path / "api.yaml", "app: {name: ok}\n")
    settings.LOOM = {"CONFIG_FILES": [f], "MODULES": ["tests.app.test_conf.register"]}
    assert validate_settings() == []


def test_loom_of_a_wrong_type_is_a_problem(settings):
    settings.LOOM = 42
    assert [p.id for p in settings_problems()] == ["loom_django.E001"]


def test_unknown_setting_is_reported_with_a_suggestion(settings):
    settings.LOOM = {"MODULE": []}
    [problem] = settings_problems()
    assert problem.id == "loom_django.E002"
    assert "LOOM['MODULE']" in problem.msg
    assert problem.hint == "Did you mean 'MODULES'?"


def test_missing_config_file_is_a_problem(settings, tmp_path):
    settings.LOOM = {"CONFIG_FILES": [tmp_path / "gone.yaml"]}
    [message] = validate_settings()
    assert "Configuration file not found" in message


def test_unresolvable_env_variable_is_a_problem(settings, monkeypatch):
    monkeypatch.delenv("LOOM_TEST_UNSET_VAR", raising=False)
    settings.LOOM = {"CONFIG": {"database": {"url": "${oc.env:LOOM_TEST_UNSET_VAR}"}}}
    [problem] = settings_problems()
    assert problem.id == "loom_django.E004"
    assert "LOOM_TEST_UNSET_VAR" in problem.msg


def test_wrongly_typed_settings_are_problems(settings):
    settings.LOOM = {"ADMIN_AUTOREGISTER": "yes", "MODULES": "a.b", "CONFIG": []}
    ids = sorted(p.id for p in settings_problems())
    assert ids == ["loom_django.E005", "loom_django.E006", "loom_django.E007"]


def test_unimportable_di_module_is_a_problem(settings):
    settings.LOOM = {"MODULES": ["no_such_package_xyz.register"]}
    [problem] = settings_problems()
    assert problem.id == "loom_django.E006"
    assert "no_such_package_xyz" in problem.msg


def test_non_callable_di_module_is_a_problem(settings):
    settings.LOOM = {"MODULES": ["tests.app.test_conf.NOT_CALLABLE"]}
    [problem] = settings_problems()
    assert "not callable" in problem.msg
