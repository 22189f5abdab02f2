#!/usr/bin/env bash
# Every benchmark: each measures our path and its hand-written baseline in the same run and
# prints the ratio. Needs PostgreSQL (orm, rest, jobs), Redis (jobs) and wrk (rest).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_main_venv
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
if ! command -v wrk >/dev/null && command -v apt-get >/dev/null; then
    say "installing wrk (Debian package) for the REST benchmark"
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
say "engine";  "$PY" bench/engine.py
say "orm";     "$PY" bench/orm.py
say "rest";    "$PY" bench/rest/run.py
say "jobs";    "$PY" bench/jobs/run.py
say "etl";     "$PY" bench/etl.py --spark
say "streaming"; "$PY" bench/streaming.py
say "streaming observability"; "$PY" bench/streaming_observability.py
say "streaming db"; "$PY" bench/streaming_db.py --database-url "${LOOM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
