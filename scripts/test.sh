#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (see .ci/run). Lanes:
#   0. Python 3.11, tests/core without Django (proves the core imports no Django);
#   1. Python 3.11 + Django 5.2, every other test on SQLite (in memory);
#   2. the same venv, the DB-backed suites (all but tests/core) on PostgreSQL;
#   3. the example project passes `manage.py check`;
#   4. Python 3.12 + Django 6.x (scripts/test-lane312.sh).
# With arguments, runs only lane 1 with those pytest arguments: scripts/test.sh tests/core -k di
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_main_venv
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
PG_URL="${LOOM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

if [[ $# -gt 0 ]]; then
    env -u DATABASE_URL "$PY" -m pytest "$@"
    exit
fi


# Test directories that may touch a database: everything except the Django-free core.
db_suites() {
    local dir
    for dir in tests/*/; do
        dir="${dir%/}"
        case "$(basename "$dir")" in core | testapp | __pycache__) continue ;; esac
        if [[ -n "$(find "$dir" -name 'test_*.py' -print -quit)" ]]; then echo "$dir"; fi
    done
    find tests -maxdepth 1 -name 'test_*.py'
}

failed=()
start=$SECONDS

run_pytest "py3.11 core (no Django)" "$PY" -q -p no:cacheprovider -p no:django \
    -W ignore::pytest.PytestConfigWarning tests/core \
    || failed+=("core")

mapfile -t django_suites < <(db_suites)
(unset DATABASE_URL; run_pytest "py3.11 django5.2 sqlite" "$PY" -q -p no:cacheprovider \
    "${django_suites[@]}") || failed+=("sqlite")

DATABASE_URL="$PG_URL" run_pytest "py3.11 django5.2 postgres" "$PY" -q -p no:cacheprovider \
    "${django_suites[@]}" || failed+=("postgres")

say "example_project: manage.py check"
(cd example_project && env -u DATABASE_URL "$PY" manage.py check) || failed+=("example_project check")

"$ROOT/scripts/test-lane312.sh" || failed+=("py3.12 django6")

say "test lanes finished in $((SECONDS - start))s"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED lanes: ${failed[*]}" >&2
    exit 1
fi
echo "all lanes passed"
