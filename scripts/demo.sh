#!/usr/bin/env bash
# The example store: migrate its database (SQLite unless DATABASE_URL is set) and serve it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_main_venv
cd "$ROOT/example_project"
mkdir -p var
PY="$ROOT/.venv/bin/python"
HOST="${DEMO_HOST:-127.0.0.1}" PORT="${DEMO_PORT:-8000}"

say "migrate"
"$PY" manage.py migrate --noinput

# Background processes the demo needs (e.g. a Celery worker) start here and stop with it.
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

say "serving on http://$HOST:$PORT/ (admin at /admin/; Ctrl-C stops)"
"$PY" manage.py runserver "$HOST:$PORT"
