#!/usr/bin/env bash
# `make demo`: migrate, seed, then serve the site and run one Celery worker beside it (both queues, with
# beat). Without CELERY_BROKER_URL the worker and the site talk through the filesystem broker in DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
DATA_DIR=${DATA_DIR:-$PWD/var}
export DATA_DIR
mkdir -p "$DATA_DIR"

$VENV/bin/python manage.py migrate --noinput
$VENV/bin/python manage.py collectstatic --noinput -v 0
$VENV/bin/python manage.py seed_demo

$VENV/bin/celery -A readerstudy worker -Q gpu,default --concurrency 1 --beat \
    --schedule "$DATA_DIR/celerybeat-schedule" --loglevel INFO >"$DATA_DIR/worker.log" 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
echo "Worker started (log: $DATA_DIR/worker.log)"
echo "Serving on http://127.0.0.1:8000 (Ctrl-C to stop)"
$VENV/bin/gunicorn readerstudy.wsgi --bind 127.0.0.1:8000 --workers 2 --access-logfile -
