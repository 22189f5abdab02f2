#!/usr/bin/env bash
# Second CI lane: Python 3.12 + Django 6.x on tests/core, tests/orm, tests/rest and tests/etl
# (SQLite; orm and rest also on PostgreSQL). Uses .venv312.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
PG_URL="${LOOM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

if ! PY312="$(python312)"; then
    if [[ -n "${CI:-}" ]]; then
        echo "error: Python 3.12 not found (set PYTHON312); the Django 6 lane cannot run" >&2
        exit 1
    fi
    say "WARNING: Python 3.12 not found; skipping the Django 6 lane (set PYTHON312=...)"
    exit 0
fi
ensure_venv "$ROOT/.venv312" "$PY312" "django>=6.0,<6.2"
PY="$ROOT/.venv312/bin/python"
say "lane: $("$PY" --version), Django $("$PY" -c 'import django; print(django.get_version())')"

db=()
for dir in tests/app tests/orm tests/rest tests/etl; do
    [[ -d "$dir" ]] && db+=("$dir")
done

rc=0
run_pytest "py3.12 core (no Django)" "$PY" -q -p no:cacheprovider -p no:django \
    -W ignore::pytest.PytestConfigWarning tests/core || rc=1
(unset DATABASE_URL; run_pytest "py3.12 django6 sqlite" "$PY" -q -p no:cacheprovider "${db[@]}") \
    || rc=1
if [[ ${#db[@]} -gt 0 ]]; then
    DATABASE_URL="$PG_URL" run_pytest "py3.12 django6 postgres" "$PY" -q -p no:cacheprovider \
        "${db[@]}" || rc=1
fi
exit $rc
