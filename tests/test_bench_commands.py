"""The benchmark commands, run briefly as a user runs them: each sets up its own site, prints its table, and
leaves nothing behind."""

import os
import re
import subprocess
import sys

import psycopg
from django.conf import settings

from tooling.servers import ROOT


def run_command(*args):
    """The command in a process of its own, on the test run's PostgreSQL server (its throwaway database is its
    own, beside the test database)."""
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/postgres"}
    finished = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def bench_databases():
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname="postgres"
    ) as server:
        return server.execute("SELECT datname FROM pg_database WHERE datname LIKE 'readerstudy_bench_%'").fetchall()


def test_bench_reading_prints_every_endpoint_and_loses_and_doubles_nothing():
    before = bench_databases()
    output = run_command("bench_reading", "--readers", "3", "--seconds", "3", "--workers", "1", "--cases", "10")
    for endpoint in ("detail", "events", "draft", "submit", "healthz"):
        line = re.search(rf"^{endpoint} +(\d+) +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+  none$", output, re.MULTILINE)
        assert line and int(line[1]) > 0, output
    assert "reads lost: 0; doubled: 0" in output
    assert re.search(r"^healthz p99: [\d.]+ ms; submit p99 / healthz p99: [\d.]+$", output, re.MULTILINE), output
    assert bench_databases() == before


def test_bench_serving_prints_the_three_ways_and_their_ratios_to_the_anchor():
    output = run_command(
        "bench_serving", "--rounds", "1", "--seconds", "1", "--workers", "1", "--image-size", "256x320"
    )
    for way in ("(a) gunicorn FileResponse", "(b) nginx X-Accel-Redirect", "(c) nginx static (anchor)"):
        assert re.search(rf"^{re.escape(way)} +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +0$", output, re.MULTILINE), output
    for way in ("(a) gunicorn FileResponse", "(b) nginx X-Accel-Redirect"):
        assert re.search(rf"^{re.escape(way)} / anchor: req/s [\d.]+, p99 [\d.]+$", output, re.MULTILINE), output
