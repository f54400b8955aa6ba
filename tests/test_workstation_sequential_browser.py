"""A sequential read in Chromium: the reader commits findings and confidence with no AI on the page, then the
AI output appears, the rest of the form opens, and the final read may differ from the first."""

import pytest

from readerstudy.models import Arm, Read, TimingEvent, UnaidedRead
from tests.browser import chromium, log_in, settled_context, wait_for_image
from tests.reading_setup import open_study_with_assignments
from tests.test_workstation_browser import workstation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_first_read_is_committed_without_the_ai_then_revised_and_submitted(live_server, demo_case_set, reader):
    study, by_arm = open_study_with_assignments(
        demo_case_set, reader, arms=[Arm.FULL_REASONING], sequential_reading=True, free_order=True
    )
    assignment = by_arm[Arm.FULL_REASONING]
    questions = {q.key: q for q in study.questions.all() if q.is_asked_in(assignment.arm)}
    before_ai = [key for key, q in questions.items() if set(q.arms) - {Arm.LABELS_ONLY, Arm.FULL_REASONING}]
    after_ai = [key for key in questions if key not in before_ai]
    with chromium() as browser, settled_context(browser, viewport={"width": 1366, "height": 768}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        page.goto(workstation(live_server, assignment))
        wait_for_image(page)

        # First phase: no AI content on the page, the report text and the AI's questions wait.
        assert page.inner_text("[data-testid=ai-message]") == "The AI output is shown after you commit your first read."
        assert page.locator("[data-testid=trace]").count() == 0
        assert page.is_hidden("[data-testid=report-text]")
        for key in after_ai:
            assert page.is_hidden(f"[data-testid=rating-{key}]")
        page.check("[data-testid=finding-edema]")
        for key in before_ai:
            page.check(f"[data-testid=rating-{key}] input[value='2']")
        page.click("[data-testid=commit-first-read]")
        page.wait_for_selector("[data-testid=trace] .step")

        first = UnaidedRead.objects.get(assignment=assignment)
        assert first.findings == ["edema"] and first.ratings == {key: 2 for key in before_ai}
        assert TimingEvent.objects.filter(assignment=assignment, type="unaided_commit").count() == 1
        assert page.inner_text("[data-testid=phase-note]").startswith("Your first read is committed.")

        # Second phase: the whole form, revised after the AI.
        page.uncheck("[data-testid=finding-edema]")
        page.check("[data-testid=finding-consolidation]")
        page.fill("[data-testid=report-text]", "Right lower zone consolidation.")
        for key in after_ai:
            page.check(f"[data-testid=rating-{key}] input[value='4']")
        page.click("[data-testid=submit-read]")
        page.wait_for_url(f"{live_server.url}/read/**")

    read = Read.objects.get(assignment=assignment)
    assert read.submitted_at is not None
    assert list(read.finding_links.values_list("label__slug", flat=True)) == ["consolidation"]
    assert UnaidedRead.objects.get(assignment=assignment).findings == ["edema"]
