"""`make demo` runs on SQLite: migrate and seed_demo there, in a fresh DATA_DIR, as a newcomer would."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_analysis import expected_plots

ROOT = Path(__file__).resolve().parent.parent


def manage(data_dir, *args):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_migrate_and_seed_demo_on_sqlite_twice(tmp_path):
    data_dir = tmp_path / "var"
    migrated = manage(data_dir, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    first = manage(data_dir, "seed_demo", "--count", "6", "--image-size", "96x120")
    assert first.returncode == 0, first.stderr
    for line in [
        "admin        admin        demo-admin-pass",
        "reader       reader1      demo-reader1-pass",
        "Pinned 6 simulated model outputs",
        "Opened the study",
        "Simulated 108 reads in 'Demo dry run: simulated readers, analysed'",
    ]:
        assert line in first.stdout
    second = manage(data_dir, "seed_demo", "--count", "6", "--image-size", "96x120")
    assert second.returncode == 0, second.stderr
    assert "Pinned" not in second.stdout and "Simulated" not in second.stdout

    db = sqlite3.connect(data_dir / "db.sqlite3")
    count = lambda table: db.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: E731
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    # The demo study and the dry run, each with its own simulated run pinned.
    assert (count("readerstudy_case"), count("inference_studyoutputpin"), count("inference_modeloutput")) == (6, 12, 12)
    # Two readers in the demo study and six simulated ones in the dry run, each reading every case once under
    # each of the three arms.
    assert count("readerstudy_assignment") == (2 + 6) * 6 * 3
    arms_per_case = db.execute(
        "select reader_id, case_id, count(distinct arm) from readerstudy_assignment group by reader_id, case_id"
    ).fetchall()
    assert {row[2] for row in arms_per_case} == {3}
    assert db.execute("select status, is_dry_run from readerstudy_study order by id").fetchall() == [
        ("open", 0),
        ("open", 1),
    ]
    # The dry run is analysed already: coordinators see the analysis page filled on their first visit.
    [(result,)] = db.execute("select result from readerstudy_studyanalysis where result is not null").fetchall()
    plots = [name for (name,) in db.execute('select name from readerstudy_analysisplot order by "order"')]
    assert plots == expected_plots(json.loads(result))
    assert json.loads(result)["reads"]["analysed"] == 108
    assert len(list((data_dir / "dicom").rglob("*.dcm"))) == 6
    # The audit log is append-only in SQLite too: no UPDATE, and no DELETE, qualified or not.
    # The demo coordinator runs both studies (on their teams); each study joined and opened.
    assert db.execute(
        "select s.title, u.username from readerstudy_studycoordinator c join readerstudy_study s on "
        "s.id = c.study_id join auth_user u on u.id = c.user_id order by s.id"
    ).fetchall() == [
        ("Demo study: AI reasoning in chest radiograph reading", "coordinator"),
        ("Demo dry run: simulated readers, analysed", "coordinator"),
    ]
    assert sorted(db.execute("select action from readerstudy_auditentry").fetchall()) == [
        ("opened",),
        ("opened",),
        ("team_joined",),
        ("team_joined",),
    ]
    for statement in (
        "update readerstudy_auditentry set detail = 'rewritten'",
        "delete from readerstudy_auditentry",
        "delete from readerstudy_auditentry where id = 1",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="^audit entries are append-only$"):
            db.execute(statement)
    assert count("readerstudy_auditentry") == 4
    # sqlite3 opened a transaction for the refused statements; it would hold the write lock the login needs.
    db.rollback()

    # Through the lockout's backend, as the login page does: it needs the request.
    login = manage(
        data_dir,
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import authenticate; "
        "from django.test import RequestFactory; request = RequestFactory().post('/login/'); "
        "print([bool(authenticate(request, username=u, password=p)) for u, p in "
        "[('admin', 'demo-admin-pass'), ('coordinator', 'demo-coordinator-pass'), "
        "('reader1', 'demo-reader1-pass'), ('reader2', 'demo-reader2-pass'), ('simulated-reader1', '')]])",
    )
    assert login.stdout.strip() == "[True, True, True, True, False]", login.stderr
