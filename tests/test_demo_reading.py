"""The demo as a newcomer gets it (SQLite, collected static files, gunicorn), read in Chromium by reader1:
one case in each arm, each read stored once with its events."""

import sqlite3

import pytest

from tests.browser import chromium, log_in, wait_for_image
from tests.test_seed_demo import manage
from tooling.servers import gunicorn


@pytest.fixture
def demo_server(tmp_path):
    data_dir = tmp_path / "var"
    for command in (
        ["migrate", "--noinput"],
        ["collectstatic", "--noinput", "-v", "0"],
        ["seed_demo", "--count", "6", "--image-size", "256x320"],
    ):
        done = manage(data_dir, *command)
        assert done.returncode == 0, done.stderr
    env = {"DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    with gunicorn(env, workers=2, ready_path="/login/") as url:
        yield url, data_dir / "db.sqlite3"


def read_current_case(page):
    """Fill the report the way a reader would: a finding, text, and every rating question."""
    page.check("[data-testid=finding-no-finding]")
    page.fill("[data-testid=report-text]", "No acute cardiopulmonary abnormality.")
    for question in page.locator("#report-form .rating").all():
        question.locator("input[value='3']").check()
    page.click("[data-testid=submit-read]")


def test_reader1_reads_one_case_in_each_arm_of_the_demo(demo_server):
    url, database = demo_server
    arms_read = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        log_in(page, url, "reader1", "demo-reader1-pass")
        page.goto(f"{url}/read/")
        page.click("[data-testid=continue]")
        while len(set(arms_read)) < 3:
            page.wait_for_url(f"{url}/read/*/")
            current = page.url
            wait_for_image(page)
            arm = page.inner_text("[data-testid=position]").rsplit(" · ", 1)[1]
            if arm != "Unaided":
                page.wait_for_selector("[data-testid=ai-labels]")
            read_current_case(page)
            page.wait_for_function(f"() => location.href !== {current!r}", timeout=20_000)
            arms_read.append(arm)
    assert set(arms_read) == {"Unaided", "AI labels only", "Full AI reasoning"}

    db = sqlite3.connect(database)
    reads = db.execute("""select a.arm, r.active_ms, (select count(*) from readerstudy_timingevent e
                                                      where e.assignment_id = a.id and e.type = 'submit')
                          from readerstudy_read r join readerstudy_assignment a on a.id = r.assignment_id
                          join auth_user u on u.id = a.reader_id
                          where u.username = 'reader1' and r.submitted_at is not null""").fetchall()
    assert len(reads) == len(arms_read)
    assert {arm for arm, _, _ in reads} == {"UNAIDED", "LABELS_ONLY", "FULL_REASONING"}
    assert all(active > 0 and submits == 1 for _, active, submits in reads)
