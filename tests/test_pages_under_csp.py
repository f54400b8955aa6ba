"""The coordinator's and the admin's pages in Chromium under the site's Content-Security-Policy: each loads,
and nothing on it (script, style, image) is blocked. The workstation's own proof is in
test_workstation_browser.py, on the WebGL and the CPU path."""

import pytest
from django.urls import reverse

from readerstudy.models import Arm
from tests.browser import chromium, log_in, settled_context
from tests.reading_setup import open_study_with_assignments

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_coordinators_and_admins_pages_work_under_the_policy(live_server, admin_user, reader, demo_case_set):
    admin_user.is_staff = True
    admin_user.save()
    study, _ = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED, Arm.LABELS_ONLY])
    case = demo_case_set.ordered_cases()[0]
    paths = [
        reverse("home"),
        reverse("study-detail", args=[study.pk]),
        reverse("study-analysis", args=[study.pk]),
        reverse("people"),
        reverse("import-cases"),
        reverse("inference:runs"),
        reverse("admin:index"),
        reverse("admin:readerstudy_study_change", args=[study.pk]),
        reverse("admin:readerstudy_study_add"),
        reverse("admin:readerstudy_case_change", args=[case.pk]),
        reverse("admin:auth_user_changelist"),
        reverse("admin:axes_accessattempt_changelist"),
    ]
    with chromium() as browser, settled_context(browser) as context:
        page = context.new_page()
        log_in(page, live_server.url, admin_user.username)
        statuses = {path: page.goto(live_server.url + path).status for path in paths}
        page.wait_for_load_state("networkidle")
    assert statuses == {path: 200 for path in paths}
