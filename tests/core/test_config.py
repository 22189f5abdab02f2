"""YAML loading, includes, interpolation, typed sections, binding and database URLs (§15)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from loom_django.core.config import (
    ConfigBinding,
    ConfigContext,
    ConfigError,
    ConfigKey,
    MetricsSettings,
    SsmResolver,
    app_name,
    database_from_url,
    databases_from_yaml,
    load_config,
    metrics_settings,
    register_resolver,
    section,
    trace_enabled,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class Rest(msgspec.Struct):
    title: str
    version: str = "0.1.0"


# -- loading -----------------------------------------------------------------------------


def test_load_config_without_files_raises_config_error():
    with pytest.raises(ConfigError):
        load_config()


def test_later_file_overrides_earlier_file(tmp_path):
    a = write(tmp_path / "a.yaml", "app: {name: a, rest: {title: A}}\n")
    b = write(tmp_path / "b.yaml", "app: {name: b}\n")
    cfg = load_config(a, b)
    assert cfg.app.name == "b"
    assert cfg.app.rest.title == "A"


def test_lists_are_replaced_not_concatenated(tmp_path):
    a = write(tmp_path / "a.yaml", "app: {modules: [x, y]}\n")
    b = write(tmp_path / "b.yaml", "app: {modules: [z]}\n")
    assert list(load_config(a, b).app.modules) == ["z"]


def test_missing_file_raises_config_file_not_found(tmp_path):
    with pytest.raises(ConfigError, match="Configuration file not found: '.*nope.yaml'"):
        load_config(tmp_path / "nope.yaml")


def test_unparsable_file_raises_failed_to_parse(tmp_path):
    bad = write(tmp_path / "bad.yaml", "app: [1, 2\n")
    with pytest.raises(ConfigError, match="Failed to parse configuration file"):
        load_config(bad)


def test_top_level_list_is_a_parse_error(tmp_path):
    bad = write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="Failed to parse configuration file"):
        load_config(bad)


def test_empty_file_loads_as_empty_mapping(tmp_path):
    empty = write(tmp_path / "empty.yaml", "")
    assert dict(load_config(empty)) == {}


# -- includes ----------------------------------------------------------------------------


def test_include_values_are_overridden_by_the_including_file(tmp_path):
    write(tmp_path / "base.yaml", "app: {name: base, rest: {title: Base, version: '1'}}\n")
    main = write(tmp_path / "main.yaml", "includes: [base.yaml]\napp: {rest: {title: Main}}\n")
    cfg = load_config(main)
    assert cfg.app.name == "base"
    assert cfg.app.rest.title == "Main"
    assert cfg.app.rest.version == "1"


def test_includes_key_is_removed_from_the_result(tmp_path):
    write(tmp_path / "base.yaml", "a: 1\n")
    main = write(tmp_path / "main.yaml", "includes: [base.yaml]\n")
    assert "includes" not in load_config(main)


def test_includes_resolve_relative_to_the_declaring_file(tmp_path):
    write(tmp_path / "conf" / "shared" / "db.yaml", "database: {url: 'sqlite:///x.db'}\n")
    write(tmp_path / "conf" / "base.yaml", "includes: [shared/db.yaml]\napp: {name: b}\n")
    main = write(tmp_path / "main.yaml", "includes: [conf/base.yaml]\n")
    cfg = load_config(main)
    assert cfg.database.url == "sqlite:///x.db"
    assert cfg.app.name == "b"


def test_includes_merge_in_order_before_own_keys(tmp_path):
    write(tmp_path / "one.yaml", "x: 1\ny: 1\n")
    write(tmp_path / "two.yaml", "y: 2\n")
    main = write(tmp_path / "main.yaml", "includes: [one.yaml, two.yaml]\nz: 3\n")
    assert dict(load_config(main)) == {"x": 1, "y": 2, "z": 3}


def test_mutual_includes_raise_circular_include_detected(tmp_path):
    write(tmp_path / "a.yaml", "includes: [b.yaml]\n")
    write(tmp_path / "b.yaml", "includes: [a.yaml]\n")
    with pytest.raises(ConfigError, match="Circular include detected: '.*a.yaml' is already"):
        load_config(tmp_path / "a.yaml")


def test_missing_include_names_the_missing_file(tmp_path):
    main = write(tmp_path / "main.yaml", "includes: [gone.yaml]\n")
    with pytest.raises(ConfigError, match="Configuration file not found: '.*gone.yaml'"):
        load_config(main)


def test_same_file_included_twice_in_siblings_is_not_circular(tmp_path):
    write(tmp_path / "common.yaml", "c: 1\n")
    write(tmp_path / "a.yaml", "includes: [common.yaml]\na: 1\n")
    write(tmp_path / "b.yaml", "includes: [common.yaml]\nb: 1\n")
    assert dict(load_config(tmp_path / "a.yaml", tmp_path / "b.yaml")) == {"c": 1, "a": 1, "b": 1}


# -- cloud URIs --------------------------------------------------------------------------


class _FakeFile:
    def __init__(self, text: str) -> None:
        self.text = text

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self) -> str:
        return self.text


def _fake_fsspec(monkeypatch, files: dict[str, str]) -> None:
    module = types.ModuleType("fsspec")

    def open_(uri, mode="r", encoding=None):
        if uri not in files:
            raise FileNotFoundError(uri)
        return _FakeFile(files[uri])

    module.open = open_  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fsspec", module)


def test_cloud_uri_is_read_through_fsspec(monkeypatch):
    _fake_fsspec(monkeypatch, {"s3://bucket/api.yaml": "app: {name: cloud}\n"})
    assert load_config("s3://bucket/api.yaml").app.name == "cloud"


def test_cloud_file_may_not_use_includes(monkeypatch):
    _fake_fsspec(monkeypatch, {"gs://b/api.yaml": "includes: [x.yaml]\n"})
    with pytest.raises(ConfigError, match="may not use includes"):
        load_config("gs://b/api.yaml")


def test_cloud_uri_without_fsspec_raises_a_clear_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ConfigError, match="requires fsspec"):
        load_config("s3://bucket/api.yaml")


# -- interpolation -----------------------------------------------------------------------


def test_env_default_applies_when_database_url_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    f = write(
        tmp_path / "api.yaml",
        "database:\n  url: ${oc.env:DATABASE_URL,sqlite+aiosqlite:///store.db}\n",
    )
    assert section(load_config(f), "database.url", str) == "sqlite+aiosqlite:///store.db"


def test_env_value_wins_over_default_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://h/db")
    f = write(tmp_path / "api.yaml", "database:\n  url: ${oc.env:DATABASE_URL,sqlite:///x.db}\n")
    assert section(load_config(f), "database.url", str) == "postgresql://h/db"


def test_oc_decode_turns_env_strings_into_typed_values(tmp_path, monkeypatch):
    monkeypatch.setenv("METRICS_ENABLED", "false")
    monkeypatch.delenv("TRACE_ENABLED", raising=False)
    f = write(
        tmp_path / "api.yaml",
        "metrics: {enabled: '${oc.decode:${oc.env:METRICS_ENABLED,true}}'}\n"
        "trace: {enabled: '${oc.decode:${oc.env:TRACE_ENABLED,true}}'}\n",
    )
    cfg = load_config(f)
    assert section(cfg, "metrics.enabled", object) is False
    assert section(cfg, "trace.enabled", object) is True


def test_custom_resolver_is_used_in_interpolation(tmp_path):
    class Vault:
        name = "vault_test"

        def resolve(self, key: str) -> str:
            return f"secret-{key}"

    f = write(tmp_path / "api.yaml", "db: {password: '${vault_test:db}'}\n")
    assert section(load_config(f, resolvers=[Vault()]), "db.password", str) == "secret-db"


def test_registering_a_resolver_twice_is_idempotent():
    class One:
        name = "idempotent_test"

        def resolve(self, key: str) -> str:
            return key

    register_resolver(One())
    register_resolver(One())
    cfg = ConfigContext.from_dict({"v": "${idempotent_test:ok}"})
    assert cfg.section("v", str) == "ok"


# -- section -----------------------------------------------------------------------------


def test_section_converts_to_the_requested_type():
    ctx = ConfigContext.from_dict({"app": {"rest": {"title": "Store"}}})
    assert ctx.section("app.rest", Rest) == Rest(title="Store", version="0.1.0")


def test_section_is_not_strict_about_strings_from_env():
    ctx = ConfigContext.from_dict({"app": {"port": "8000"}})
    assert ctx.section("app.port", int) == 8000


def test_missing_section_raises_section_not_found_naming_the_segment():
    cfg = ConfigContext.from_dict({"app": {"name": "x"}}).config
    expected = r"Config section not found: 'app.rest.title' \(failed at segment 'rest'\)"
    with pytest.raises(ConfigError, match=expected):
        section(cfg, "app.rest.title", str)


def test_missing_top_level_section_raises_section_not_found():
    cfg = ConfigContext.from_dict({}).config
    with pytest.raises(ConfigError, match="Config section not found: 'missing'"):
        section(cfg, "missing", Rest)


def test_unresolvable_interpolation_raises_failed_to_resolve(monkeypatch):
    monkeypatch.delenv("LOOM_TEST_UNSET_VAR", raising=False)
    cfg = ConfigContext.from_dict({"a": {"b": "${oc.env:LOOM_TEST_UNSET_VAR}"}}).config
    with pytest.raises(ConfigError, match="Failed to resolve config section 'a'"):
        section(cfg, "a", dict)


def test_invalid_section_raises_failed_validation_naming_the_type():
    cfg = ConfigContext.from_dict({"app": {"rest": {"version": "1"}}}).config
    with pytest.raises(ConfigError, match="Config section 'app.rest' failed validation as 'Rest'"):
        section(cfg, "app.rest", Rest)


# -- ConfigContext -----------------------------------------------------------------------


def test_context_from_yaml_loads_and_merges(tmp_path):
    a = write(tmp_path / "a.yaml", "app: {name: a}\n")
    b = write(tmp_path / "b.yaml", "app: {rest: {title: T}}\n")
    ctx = ConfigContext.from_yaml(a, b)
    assert ctx.section("app.name", str) == "a"
    assert ctx.section("app.rest", Rest).title == "T"


def test_context_has_reports_presence():
    ctx = ConfigContext.from_dict({"app": {"name": "x"}})
    assert ctx.has("app.name")
    assert not ctx.has("app.rest")


def test_section_optional_returns_none_when_absent():
    assert ConfigContext.from_dict({}).section_optional("app.rest", Rest) is None


def test_section_or_default_returns_default_when_absent():
    default = Rest(title="D")
    assert ConfigContext.from_dict({}).section_or_default("app.rest", Rest, default) is default


def test_bind_uses_section_and_overrides_win():
    ctx = ConfigContext.from_dict({"app": {"rest": {"title": "Y", "version": "2"}}})
    assert ctx.bind(Rest, "app.rest", title="Z") == Rest(title="Z", version="2")


def test_bind_missing_section_builds_from_overrides():
    assert ConfigContext.from_dict({}).bind(Rest, "app.rest", title="O") == Rest(title="O")


class Step:
    def __init__(self, prefix: str, rate: float = 1.0) -> None:
        self.prefix = prefix
        self.rate = rate


def test_resolve_binding_builds_plain_class_from_section_with_overrides():
    bindings = {"s": {"prefix": "y", "rate": "2.5"}}
    ctx = ConfigContext.from_dict({"streaming": {"bindings": bindings}})
    step = ctx.resolve(ConfigBinding(Step, "streaming.bindings.s", {"prefix": "o"}))
    assert (step.prefix, step.rate) == ("o", 2.5)


def test_resolve_binding_missing_required_field_names_it():
    ctx = ConfigContext.from_dict({"streaming": {"bindings": {"s": {"rate": 1}}}})
    with pytest.raises(ConfigError, match="requires config field 'prefix'"):
        ctx.resolve(ConfigBinding(Step, "streaming.bindings.s"))


def test_resolve_binding_wrong_type_reports_msgspec_message():
    ctx = ConfigContext.from_dict({"streaming": {"bindings": {"s": {"prefix": "p", "rate": "x"}}}})
    with pytest.raises(ConfigError, match="Expected `float`, got `str`"):
        ctx.resolve(ConfigBinding(Step, "streaming.bindings.s"))


def test_resolve_binding_missing_section_names_its_path():
    with pytest.raises(ConfigError, match="streaming.bindings.s"):
        ConfigContext.from_dict({}).resolve(ConfigBinding(Step, "streaming.bindings.s"))


@dataclass
class Point:
    x: int
    y: int = 0


def test_resolve_binding_builds_dataclass_and_checks_required_fields():
    ctx = ConfigContext.from_dict({"p": {"y": 2}})
    with pytest.raises(ConfigError, match="requires config field 'x'"):
        ctx.resolve(ConfigBinding(Point, "p"))
    assert ctx.resolve(ConfigBinding(Point, "p", {"x": "1"})) == Point(1, 2)


def test_config_keys_name_the_top_level_sections():
    assert (ConfigKey.APP, ConfigKey.DATABASE, ConfigKey.JOBS) == ("app", "database", "jobs")


# -- database URLs -----------------------------------------------------------------------


def test_asyncpg_url_becomes_a_postgresql_database_entry():
    db = database_from_url(
        "postgresql+asyncpg://u:p%40ss@db.example:5433/store?sslmode=require", pool=False
    )
    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "store",
        "USER": "u",
        "PASSWORD": "p@ss",
        "HOST": "db.example",
        "PORT": "5433",
        "OPTIONS": {"sslmode": "require"},
    }


def test_postgresql_connections_are_pooled_when_psycopg_pool_is_installed():
    pytest.importorskip("psycopg_pool")
    assert database_from_url("postgresql://db/store")["OPTIONS"] == {"pool": True}


def test_pool_options_are_passed_to_the_pool():
    db = database_from_url("postgresql://db/store", pool={"min_size": 2, "max_size": 8})
    assert db["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 8}


def test_pool_false_keeps_djangos_own_connections():
    assert "pool" not in database_from_url("postgresql://db/store", pool=False)["OPTIONS"]


def test_sqlite_is_never_pooled():
    assert "OPTIONS" not in database_from_url("sqlite:///store.db", pool=True)


def test_aiosqlite_relative_url_becomes_a_sqlite_entry():
    assert database_from_url("sqlite+aiosqlite:///store.db") == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "store.db",
    }


def test_sqlite_relative_path_resolves_against_base_dir(tmp_path):
    db = database_from_url("sqlite:///./store.db", base_dir=tmp_path)
    assert db["NAME"] == str(tmp_path / "./store.db")


def test_sqlite_absolute_path_is_kept():
    assert database_from_url("sqlite:////var/data/s.db")["NAME"] == "/var/data/s.db"


def test_sqlite_memory_url():
    assert database_from_url("sqlite://")["NAME"] == ":memory:"


def test_unsupported_scheme_raises_config_error():
    with pytest.raises(ConfigError, match="Unsupported database URL scheme 'mongodb'"):
        database_from_url("mongodb://h/db")


def test_databases_from_yaml_reads_database_url(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    f = write(
        tmp_path / "api.yaml",
        "database:\n  url: ${oc.env:DATABASE_URL,sqlite+aiosqlite:///./store.db}\n",
    )
    assert databases_from_yaml(f) == {"ENGINE": "django.db.backends.sqlite3", "NAME": "./store.db"}


def test_databases_from_yaml_without_database_url_raises(tmp_path):
    f = write(tmp_path / "api.yaml", "app: {name: x}\n")
    with pytest.raises(ConfigError, match="Config section not found: 'database.url'"):
        databases_from_yaml(f)


# -- aliased keys (§15.3) ----------------------------------------------------------------


def test_app_name_defaults_to_loom():
    assert app_name(ConfigContext.from_dict({}).config) == "loom"


def test_metrics_default_to_disabled_on_slash_metrics():
    assert metrics_settings({}) == MetricsSettings(enabled=False, path="/metrics")


def test_seed_metrics_keys_are_aliases_of_observability_prometheus():
    cfg = ConfigContext.from_dict({"metrics": {"enabled": "true", "path": "/m"}}).config
    assert metrics_settings(cfg) == MetricsSettings(enabled=True, path="/m")


def test_observability_key_wins_over_the_metrics_alias():
    cfg = ConfigContext.from_dict(
        {
            "metrics": {"enabled": True, "path": "/seed"},
            "observability": {"prometheus": {"enabled": False, "config": {"path": "/obs"}}},
        }
    ).config
    assert metrics_settings(cfg) == MetricsSettings(enabled=False, path="/obs")


def test_trace_is_enabled_by_default():
    assert trace_enabled({}) is True
    assert trace_enabled({"trace": {"enabled": False}}) is False


def test_ssm_resolver_reads_the_parameter_once():
    calls = []

    class FakeSsm:
        def get_parameter(self, Name, WithDecryption):
            calls.append((Name, WithDecryption))
            return {"Parameter": {"Value": f"v:{Name}"}}

    resolver = SsmResolver(client=FakeSsm())
    cfg = ConfigContext.from_dict({"a": "${ssm:/db/pw}", "b": "${ssm:/db/pw}"})
    register_resolver(resolver)
    assert (cfg.section("a", str), cfg.section("b", str)) == ("v:/db/pw", "v:/db/pw")
    assert calls == [("/db/pw", True)]
