#!/usr/bin/env bash
# The example store: migrate its database (SQLite unless DATABASE_URL is set) and serve it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_main_venv
cd "$ROOT/example_project"
mkdir -p var
PY="$ROOT/.venv/bin/python"
# The demo is a development server: Django's debug pages on (the settings default is off).
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
HOST="${DEMO_HOST:-127.0.0.1}" PORT="${DEMO_PORT:-8000}"

say "migrate"
"$PY" manage.py migrate --noinput

# The ETL door once: import the bundled product CSV through the store's create-product
# rules (bad rows land in var/etl/rejects/; a rerun rejects the SKUs that already exist).
say "loom_etl run store.import_products"
"$PY" manage.py loom_etl run store.import_products --progress plain || true

# Background processes the demo needs (e.g. a Celery worker) start here and stop with it.
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# The Celery worker of the store's jobs: kombu's filesystem broker (var/broker, no server)
# unless CELERY_BROKER_URL is set; results in the store's database. Log: var/worker.log.
say "celery worker (queues default,notifications,analytics,erp; log in var/worker.log)"
"$PY" -m celery -A config worker -l INFO -Q default,notifications,analytics,erp \
    --concurrency "${DEMO_WORKER_CONCURRENCY:-2}" --logfile var/worker.log &
pids+=("$!")

say "serving on http://$HOST:$PORT/ (admin at /admin/; Ctrl-C stops)"
"$PY" manage.py runserver "$HOST:$PORT"
