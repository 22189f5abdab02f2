"""makemigrations and migrate work on generated models (criterion 3)."""

from __future__ import annotations

import sqlite3

import pytest
from django.core.management import call_command
from django.db import connection

from .project import run_django, write_project

STORE = """
from loom_django.core.model import ColumnField, OnDelete, TimestampedModel, BaseModel


class Customer(TimestampedModel):
    __tablename__ = "customers"
    id: int = ColumnField(primary_key=True, autoincrement=True)
    email: str = ColumnField(length=255, unique=True, index=True)
    tags: list[str] = ColumnField(default=["new"])


class Visit(BaseModel):
    __tablename__ = "visits"
    id: int = ColumnField(primary_key=True, autoincrement=True)
    customer_id: int = ColumnField(foreign_key="customers.id", on_delete=OnDelete.CASCADE)
    note: str | None = ColumnField(length=50)
"""


def test_committed_test_app_migrations_match_the_models(db, capsys):
    call_command("makemigrations", "testapp", "--check", "--dry-run")
    assert "No changes detected" in capsys.readouterr().out


@pytest.mark.django_db
def test_migrate_created_the_mapped_tables():
    tables = set(connection.introspection.table_names())
    assert {"products", "reviews", "users", "addresses", "orders", "tags", "kinds"} <= tables


def test_makemigrations_creates_then_reports_no_changes_and_migrate_creates_tables(tmp_path):
    write_project(tmp_path, STORE)
    first = run_django(tmp_path, "makemigrations", "shop")
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "shop" / "migrations" / "0001_initial.py").exists()

    second = run_django(tmp_path, "makemigrations", "shop")
    assert second.returncode == 0, second.stderr
    assert "No changes detected" in second.stdout

    migrated = run_django(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        names = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    assert {"customers", "visits"} <= names


def test_adding_a_column_produces_a_second_migration(tmp_path):
    write_project(tmp_path, STORE)
    assert run_django(tmp_path, "makemigrations", "shop").returncode == 0
    (tmp_path / "shop" / "models.py").write_text(
        STORE.replace("note: str | None", "score: int = 0\n    note: str | None")
    )
    result = run_django(tmp_path, "makemigrations", "shop")
    assert result.returncode == 0, result.stderr
    assert "Add field score to visit" in result.stdout


def test_example_store_migrations_are_committed_and_complete():
    import os
    import subprocess
    import sys

    from .project import ROOT

    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["DATABASE_URL"] = "sqlite:///:memory:"
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "store", "--check", "--dry-run"],
        cwd=ROOT / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
