"""The workstation in Chromium applies the rules the server sends (a study's own vocabulary, with no No Finding
rule) and tells the reader what happened, and what to do, when a request fails."""

import pytest

from readerstudy.models import Arm, Label, Read
from tests.browser import chromium, log_in, settled_context, wait_for_image
from tests.reading_setup import open_study_with_assignments
from tests.test_workstation_browser import session_end, workstation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def page(live_server, reader):
    with chromium() as browser, settled_context(browser, viewport={"width": 1920, "height": 1080}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        yield page


def test_a_study_with_its_own_vocabulary_renders_and_submits(page, live_server, demo_case_set, reader):
    for order, (slug, name) in enumerate([("nodule", "Nodule"), ("mass", "Mass"), ("normal", "Normal")]):
        Label.objects.create(vocabulary="nodules", slug=slug, name=name, order=order)
    _, by_arm = open_study_with_assignments(
        demo_case_set, reader, arms=[Arm.LABELS_ONLY], label_vocabulary="nodules", canaries=True
    )
    assignment = by_arm[Arm.LABELS_ONLY]
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    boxes = page.locator("input[name=finding]")
    assert [boxes.nth(i).get_attribute("value") for i in range(boxes.count())] == ["nodule", "mass", "normal"]
    # The AI answered in CheXpert labels, none of them this study's: nothing is shown as the AI's finding.
    page.wait_for_selector("[data-testid=ai-labels]")
    assert page.inner_text("[data-testid=ai-labels]") == "The AI reported no findings."

    page.click("[data-testid=submit-read]")
    assert page.inner_text("[data-field=findings]") == "Choose at least one finding."
    page.check("[data-testid=finding-normal]")
    page.check("[data-testid=finding-nodule]")  # no label here excludes the others
    page.fill("[data-testid=report-text]", "A 9 mm nodule in the right upper zone.")
    for key in [q.key for q in assignment.study.questions.all() if q.is_asked_in(assignment.arm)]:
        page.check(f"[data-testid=rating-{key}] input[value='3']")
    page.click("[data-testid=submit-read]")
    page.wait_for_url(session_end(live_server, assignment), timeout=20_000)
    read = Read.objects.get(assignment=assignment)
    assert read.is_submitted
    assert set(read.finding_links.values_list("label__slug", flat=True)) == {"normal", "nodule"}


def test_a_draft_that_cannot_be_loaded_locks_the_form_and_says_why(page, live_server, demo_case_set, reader):
    _, by_arm = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED])
    assignment = by_arm[Arm.UNAIDED]
    Read.objects.create(assignment=assignment, report_findings="Written yesterday.")
    page.route(
        "**/draft/",
        lambda route: (
            route.fulfill(status=404, json={"detail": "No such draft."})
            if route.request.method == "GET"
            else route.continue_()
        ),
    )
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    page.wait_for_function("() => document.querySelector('#banner').textContent.includes('draft')")
    assert page.inner_text("#banner") == (
        "Your saved draft could not be loaded: No such draft. Reload the page to try again; what you saved is "
        "kept on the server."
    )
    assert page.inner_text("#form-error") == (
        "Your saved draft could not be loaded, so the form is locked to keep it safe."
    )
    assert page.evaluate("document.getElementById('report-form').inert") is True
    page.wait_for_timeout(2_000)  # longer than the autosave delay: nothing overwrote the saved draft
    assert Read.objects.get(assignment=assignment).report_findings == "Written yesterday."

    page.unroute("**/draft/")
    page.reload()
    wait_for_image(page)
    page.wait_for_function("() => !document.getElementById('report-form').inert")
    assert page.input_value("[data-testid=report-text]") == "Written yesterday."


def test_an_ai_output_that_cannot_be_loaded_says_why_and_can_be_asked_for_again(
    page, live_server, demo_case_set, reader
):
    _, by_arm = open_study_with_assignments(demo_case_set, reader, arms=[Arm.FULL_REASONING], canaries=True)
    assignment = by_arm[Arm.FULL_REASONING]
    page.route(
        "**/ai/", lambda route: route.fulfill(status=403, json={"detail": "This study is not open for reading."})
    )
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    page.wait_for_selector("[data-testid=ai-retry]")
    assert page.inner_text("[data-testid=ai-message]") == (
        "The AI output cannot be shown: This study is not open for reading. Try again"
    )
    page.unroute("**/ai/")
    page.click("[data-testid=ai-retry]")
    page.wait_for_selector("[data-testid=trace] .step")
    assert page.locator("[data-testid=ai-message]").count() == 0
