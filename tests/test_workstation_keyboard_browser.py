"""The workstation's keyboard in Chromium: a whole read with no mouse, Enter that never submits from a field,
Submit only through a confirmed Ctrl+Enter, F6 between the panes, Tab that leaves the image, viewer keys after a
box is ticked, and Pause that lets no key but Resume's through."""

import pytest

from readerstudy.models import Arm, Read
from tests.browser import chromium, log_in, settled_context, wait_for_image
from tests.reading_setup import open_study_with_assignments
from tests.test_workstation_browser import session_end, workstation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

FOCUSED = "() => { const a = document.activeElement; return a.dataset.testid || a.name || a.id || a.tagName; }"


@pytest.fixture
def page(live_server, reader):
    with chromium() as browser, settled_context(browser, viewport={"width": 1366, "height": 768}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        yield page


@pytest.fixture
def by_arm(demo_case_set, reader):
    return open_study_with_assignments(demo_case_set, reader, free_order=True)[1]


def tab_until(page, condition, most=60):
    for _ in range(most):
        if page.evaluate(condition):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"never reached: {condition}")


def not_submitted(page, assignment):
    page.wait_for_timeout(300)  # what a submit would have sent has arrived by now
    assert page.is_hidden("[data-testid=confirm-submit]")
    assert page.inner_text("[data-testid=submit-read]") == "Submit read"
    assert Read.objects.get(assignment=assignment).submitted_at is None


def test_a_keyboard_only_read_of_an_abnormal_case_submits_and_enter_never_does(
    page, live_server, demo_case_set, reader
):
    assignment = open_study_with_assignments(demo_case_set, reader, arms=[Arm.FULL_REASONING])[1][Arm.FULL_REASONING]
    assert assignment.case.is_abnormal
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    page.wait_for_selector("[data-testid=trace] .step")

    page.keyboard.press("F6")
    assert page.evaluate(FOCUSED) == "image"
    invert = page.get_attribute("[data-testid=viewer]", "data-invert")
    page.keyboard.press("i")
    assert page.get_attribute("[data-testid=viewer]", "data-invert") != invert
    page.keyboard.press("i")
    page.keyboard.press("F6")
    assert page.evaluate("() => document.activeElement.id") == "ai-section"
    page.keyboard.press("F6")
    assert page.evaluate(FOCUSED) == "finding-no-finding"  # the exclusive label first

    for _ in range(3):  # atelectasis, cardiomegaly, consolidation
        page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "finding-consolidation"
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    not_submitted(page, assignment)
    tab_until(page, "() => document.activeElement.dataset.testid === 'report-text'")
    page.keyboard.type("Right lower zone consolidation.")
    tab_until(page, "() => document.activeElement.type === 'radio'")
    asked = 0
    while page.evaluate("() => document.activeElement.type === 'radio'"):
        page.keyboard.press("ArrowRight")  # chooses 2 on this question's scale
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        asked += 1
    not_submitted(page, assignment)
    assert asked == len([q for q in assignment.study.questions.all() if q.is_asked_in(assignment.arm)])

    page.keyboard.press("Control+Enter")
    assert page.evaluate(FOCUSED) == "confirm-submit"
    page.keyboard.press("Escape")  # not yet: back where the reader was, nothing sent
    assert page.is_hidden("[data-testid=confirm-submit]")
    not_submitted(page, assignment)
    page.keyboard.press("Control+Enter")
    page.keyboard.press("Enter")
    page.wait_for_url(session_end(live_server, assignment), timeout=20_000)
    read = Read.objects.get(assignment=assignment)
    assert read.is_submitted and read.report_findings == "Right lower zone consolidation."
    assert list(read.finding_links.values_list("label__slug", flat=True)) == ["consolidation"]
    assert set(read.ratings.values_list("value", flat=True)) == {2}


def test_tab_leaves_the_image_and_viewer_keys_work_after_a_box_is_ticked(page, live_server, by_arm):
    page.goto(workstation(live_server, by_arm[Arm.UNAIDED]))
    wait_for_image(page)
    page.click("[data-testid=image]")
    assert page.evaluate(FOCUSED) == "image"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) != "image"
    page.check("[data-testid=finding-edema]")
    invert = page.get_attribute("[data-testid=viewer]", "data-invert")
    page.keyboard.press("i")
    assert page.get_attribute("[data-testid=viewer]", "data-invert") != invert


def test_while_paused_no_key_but_resumes_reaches_the_page(page, live_server, by_arm):
    page.goto(workstation(live_server, by_arm[Arm.UNAIDED]))
    wait_for_image(page)
    invert = page.get_attribute("[data-testid=viewer]", "data-invert")
    page.click("[data-testid=pause]")
    assert page.evaluate(FOCUSED) == "resume"
    for key in ("i", "ArrowRight", "r", "Tab", "Control+Enter", "F6", "x"):
        page.keyboard.press(key)
        assert page.evaluate(FOCUSED) == "resume", key
    assert page.get_attribute("[data-testid=viewer]", "data-invert") == invert
    assert page.input_value("[data-testid=report-text]") == ""
    page.keyboard.press("Enter")
    page.wait_for_selector("#pause-overlay", state="hidden")
    page.keyboard.press("i")
    assert page.get_attribute("[data-testid=viewer]", "data-invert") != invert
