"""The example store's pipelines run through ``manage.py loom_etl`` on a fresh database."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.rest.servers import EXAMPLE, _env, example_database, migrate

pytestmark = pytest.mark.slow

_SEED = """
from loom_django.orm.mapping import django_model_for
from store.models import User, Address, Product, Order, OrderItem
from datetime import datetime, timezone
U, A, P, O, I = (django_model_for(m) for m in (User, Address, Product, Order, OrderItem))
u = U.objects.create(full_name="Ann", email="ann@example.com")
a = A.objects.create(user_id=u.id, label="home", street="Main 1", city="Madrid",
                     country="ES", zip_code="28001")
kb = P.objects.get(sku="KB-100")
ms = P.objects.get(sku="MS-200")
day = datetime(2026, 3, 30, 10, tzinfo=timezone.utc)
for status in ("paid", "paid", "cancelled"):
    o = O.objects.create(user_id=u.id, address_id=a.id, status=status)
    O.objects.filter(id=o.id).update(created_at=day)
    I.objects.create(order_id=o.id, product_id=kb.id, quantity=2, unit_price_cents=8990)
    I.objects.create(order_id=o.id, product_id=ms.id, quantity=1, unit_price_cents=2950)
"""

_READ = """
from store.models import DailySales
print(sorted(DailySales.objects.values_list("product_id", "orders", "units", "revenue_cents")))
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with example_database() as url:
        migrate(url)
        env = _env(url)
        env["LOOM_ETL_FILES_ROOT"] = str(tmp_path_factory.mktemp("etl"))
        env["LOOM_ETL_SPARK_MASTER"] = "local[1]"
        yield env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def imported(store: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``store.import_products`` run once on the bundled feed (products the sales need)."""
    feed = str(EXAMPLE / "store" / "data" / "products.csv")
    return _manage(store, "loom_etl", "run", "store.import_products", "-p", f"feed={feed}")


@pytest.fixture(scope="module")
def summarised(
    store: dict[str, str], imported: subprocess.CompletedProcess[str]
) -> subprocess.CompletedProcess[str]:
    """Three orders of 2026-03-30 seeded, then ``store.daily_sales`` run once on Polars."""
    seeded = _manage(store, "shell", "-c", _SEED)
    assert seeded.returncode == 0, seeded.stderr
    return _manage(store, "loom_etl", "run", "store.daily_sales", "-p", "run_date=2026-03-30")


def test_import_products_keeps_good_rows_and_rejects_bad_ones(store, imported):
    assert imported.returncode == 0, imported.stderr
    assert "rows=7 rejected=3" in imported.stdout
    rejects = subprocess.run(
        ["cat", f"{store['LOOM_ETL_FILES_ROOT']}/var/etl/rejects/products_2026-01-01.csv"],
        capture_output=True,
        text=True,
    ).stdout
    assert "price_cents must be positive" in rejects and "stock must not be negative" in rejects


def test_daily_sales_sums_one_day_of_paid_orders(store, summarised):
    assert summarised.returncode == 0, summarised.stderr
    out = _manage(store, "shell", "-c", _READ).stdout.strip().splitlines()[-1]
    rows = ast.literal_eval(out)
    assert [r[1:] for r in rows] == [(2, 4, 35960), (2, 2, 5900)]


@pytest.mark.spark
def test_daily_sales_on_spark_writes_the_same_rows_as_on_polars(store, summarised):
    assert summarised.returncode == 0, summarised.stderr
    before = _manage(store, "shell", "-c", _READ).stdout.strip().splitlines()[-1]
    done = _manage(
        store,
        "loom_etl",
        "run",
        "store.daily_sales",
        "-p",
        "run_date=2026-03-30",
        "--backend",
        "spark",
        "--progress",
        "none",
    )
    assert done.returncode == 0, done.stderr
    after = _manage(store, "shell", "-c", _READ).stdout.strip().splitlines()[-1]
    assert ast.literal_eval(after) == ast.literal_eval(before) != []


def test_unknown_pipeline_and_missing_param_exit_2(store):
    assert _manage(store, "loom_etl", "run", "store.nope").returncode == 2
    missing = _manage(store, "loom_etl", "run", "store.daily_sales")
    assert missing.returncode == 2 and "run_date" in missing.stderr
