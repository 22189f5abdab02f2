"""RepositoryDjango vs the same operations hand-written with the Django ORM, on PostgreSQL.

Five operations on the test app's ``Product`` (9 columns), each measured both ways in the
same run, interleaved round by round: get by id, an offset page of 20 with its total
count, a keyset cursor page of 20, a partial update returning the row, and a create
returning the row. Repository calls are driven exactly as the engine drives them
(``drive(repo.method(...))``: no event loop). Every call autocommits on both sides.

Baselines are the fastest idiomatic ORM forms returning plain rows (``.values()``): the
repository additionally builds msgspec structs, signs cursor tokens and refreshes
``updated_at``. Update has two baselines: the ORM (``update()`` then a SELECT, since
Django has no ``UPDATE … RETURNING``) and a hand-written ``UPDATE … RETURNING``.

    python bench/orm.py [--database-url postgres://postgres@127.0.0.1:5432/postgres]
                        [--iterations 300] [--rounds 5] [--rows 2000]

Method: per operation, both forms run alternately in batches of 25 calls; the figure is
the median batch mean. Caveats: loopback PostgreSQL on a shared 2-core machine; the ratio
is what matters, absolute µs vary with load.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _configure(url: str) -> None:
    import dj_database_url
    import django
    from django.conf import settings

    database = dj_database_url.parse(url)
    database["TEST"] = {"NAME": f"loom_bench_orm_{os.getpid()}"}
    settings.configure(
        SECRET_KEY="bench",
        USE_TZ=True,
        DEBUG=False,
        INSTALLED_APPS=["django.contrib.contenttypes", "loom_django", "tests.testapp"],
        DATABASES={"default": database},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        LOOM={},
    )
    django.setup()


def _measure(fn: Callable[[], Any], iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - start) / iterations * 1e6


def _compare(fns: dict[str, Callable[[], Any]], calls: int, batch: int) -> dict[str, float]:
    """Median µs/op of each function over small interleaved batches (robust to load drift)."""
    timings: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(max(1, calls // batch)):
        for key, fn in fns.items():
            timings[key].append(_measure(fn, batch))
    return {key: statistics.median(values) for key, values in timings.items()}


def _cases(rows: int) -> dict[str, tuple[Callable[[], Any], dict[str, Callable[[], Any]]]]:
    from django.db import connection
    from django.db.models.functions import Now

    from loom_django.core.engine.driver import drive
    from loom_django.core.repository.abc.query import (
        FilterGroup,
        FilterOp,
        FilterSpec,
        PaginationMode,
        QuerySpec,
        SortSpec,
    )
    from loom_django.orm import RepositoryDjango, django_model_for
    from tests.testapp.models import Product

    model: Any = django_model_for(Product)
    repo = RepositoryDjango(Product)
    columns = [f.attname for f in model._meta.concrete_fields]
    objects = model.objects
    pk = objects.order_by("id").values_list("id", flat=True)[rows // 2]
    counter = itertools.count()

    page_query = QuerySpec(
        filters=FilterGroup(filters=(FilterSpec("stock", FilterOp.LTE, 50),)),
        sort=(SortSpec("stock"), SortSpec("id")),
        limit=20,
        page=3,
    )
    first = drive(repo.list_with_query(QuerySpec(pagination=PaginationMode.CURSOR, limit=20)))
    cursor_query = QuerySpec(pagination=PaginationMode.CURSOR, limit=20, cursor=first.next_cursor)
    last_id = first.items[-1].id

    def page_by_hand() -> tuple[list[dict[str, Any]], int]:
        qs = objects.filter(stock__lte=50).order_by("stock", "id")
        return list(qs.values(*columns)[40:60]), qs.count()

    def cursor_by_hand() -> tuple[list[dict[str, Any]], bool]:
        found = list(objects.filter(id__gt=last_id).order_by("id").values(*columns)[:21])
        return found[:20], len(found) > 20

    def update_by_hand() -> dict[str, Any]:
        objects.filter(pk=pk).update(stock=next(counter) % 100, updated_at=Now())
        return objects.values(*columns).get(pk=pk)  # type: ignore[no-any-return]

    returning = ", ".join(f'"{c}"' for c in columns)
    update_sql = (
        'UPDATE "products" SET "stock" = %s, "updated_at" = STATEMENT_TIMESTAMP() '
        f'WHERE "id" = %s RETURNING {returning}'
    )

    def update_by_hand_sql() -> tuple[Any, ...]:
        with connection.cursor() as cursor:
            cursor.execute(update_sql, [next(counter) % 100, pk])
            return cursor.fetchone()  # type: ignore[no-any-return]

    def create_data() -> dict[str, Any]:
        n = next(counter)
        return {"sku": f"B-{os.getpid()}-{n}", "name": "Bench", "price_cents": n, "stock": 5}

    def create_by_hand() -> dict[str, Any]:
        obj = objects.create(**create_data())
        return {c: getattr(obj, c) for c in columns}

    return {
        "get_by_id": (
            lambda: drive(repo.get_by_id(pk)),
            {"orm": lambda: objects.values(*columns).get(pk=pk)},
        ),
        "page of 20 + count": (
            lambda: drive(repo.list_with_query(page_query)),
            {"orm": page_by_hand},
        ),
        "cursor page of 20": (
            lambda: drive(repo.list_with_query(cursor_query)),
            {"orm": cursor_by_hand},
        ),
        "partial update": (
            lambda: drive(repo.update(pk, {"stock": next(counter) % 100})),
            {"orm": update_by_hand, "sql": update_by_hand_sql},
        ),
        "create": (
            lambda: drive(repo.create(create_data())),
            {"orm": create_by_hand},
        ),
    }


def _seed(rows: int) -> None:
    from loom_django.orm import django_model_for
    from tests.testapp.models import Product

    model: Any = django_model_for(Product)
    model.objects.bulk_create(
        model(sku=f"SEED-{i}", name=f"Product {i}", price_cents=i, stock=i % 100, category="c")
        for i in range(rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    _configure(args.database_url)

    from django.db import connection

    if connection.vendor != "postgresql":
        print(f"warning: measuring on {connection.vendor}, the targets are for PostgreSQL")
    creation = connection.creation
    old_name = connection.settings_dict["NAME"]
    creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        _seed(args.rows)
        cases = _cases(args.rows)
        print(
            f"RepositoryDjango vs hand-written Django ORM on {connection.vendor}: "
            f"{args.rounds * args.iterations} calls each in interleaved batches of 25, "
            f"{args.rows} rows (median µs/op)"
        )
        print(f"{'operation':<22}{'loom':>10}{'baseline':>12}{'µs':>10}{'ratio':>9}")
        for name, (loom, baselines) in cases.items():
            fns = {"loom": loom, **baselines}
            _compare(fns, max(50, args.iterations // 5), 25)
            medians = _compare(fns, args.iterations * args.rounds, 25)
            ours = medians.pop("loom")
            for key, theirs in medians.items():
                print(f"{name:<22}{ours:>10.1f}{key:>12}{theirs:>10.1f}{ours / theirs:>8.2f}x")
    finally:
        creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
