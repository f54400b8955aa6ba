"""Recording an error in the AI output, in Chromium: an inline editor beside the image (nothing covers it), keys
for the category, the significance and save, the label filled in from what was pointed at and required where
the error audit counts by label, and the places that repeat the error linked to it as one error."""

import re

import pytest

from readerstudy.models import Arm, TraceAnnotation
from tests.browser import chromium, log_in, select_text, settled_context, wait_for_image
from tests.reading_setup import open_study_with_assignments
from tests.test_workstation_browser import workstation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EDITOR = "[data-testid=annotation-editor]"

# Whether the image is uncovered: its centre shows the image, and the editor lies outside the viewer.
IMAGE_UNCOVERED = """() => {
    const viewer = document.querySelector('[data-testid=viewer]').getBoundingClientRect();
    const editor = document.querySelector('[data-testid=annotation-editor]').getBoundingClientRect();
    const shown = document.elementFromPoint(viewer.left + viewer.width / 2, viewer.top + viewer.height / 2);
    const apart = editor.right <= viewer.left || editor.left >= viewer.right || editor.bottom <= viewer.top
        || editor.top >= viewer.bottom;
    const onImage = document.querySelector('[data-testid=viewer]').contains(shown);
    return apart && onImage && !document.querySelector('dialog[open]');
}"""


@pytest.fixture
def full_reasoning(live_server, demo_case_set, reader):
    _, by_arm = open_study_with_assignments(demo_case_set, reader, arms=[Arm.FULL_REASONING])
    assignment = by_arm[Arm.FULL_REASONING]
    with chromium() as browser, settled_context(browser, viewport={"width": 1920, "height": 1080}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        page.goto(workstation(live_server, assignment))
        wait_for_image(page)
        page.wait_for_selector("[data-testid=trace] .step")
        yield page, assignment


def saved(page, count):
    page.wait_for_selector(f"[data-testid=annotations] li[data-annotation] >> nth={count - 1}")
    page.wait_for_selector("[data-testid=save-status][data-state=saved]")


def mentions(text, name):
    return re.search(rf"\b{re.escape(name)}s?\b", text, re.IGNORECASE) is not None


def test_a_label_error_takes_a_click_and_three_keys_and_marks_its_repeats(full_reasoning):
    page, assignment = full_reasoning
    label = page.locator("[data-testid=ai-labels] .ai-label").first
    slug, name = label.get_attribute("data-label"), label.inner_text()

    label.click()  # the click
    assert page.evaluate(IMAGE_UNCOVERED)
    # No category is chosen for the reader, and the editor has the keys.
    assert page.input_value("[data-testid=annotation-category]") == ""
    page.keyboard.press("1")  # False finding
    page.keyboard.press("n")  # not clinically significant
    page.keyboard.press("Enter")  # save
    saved(page, 1)
    assert page.locator(EDITOR).is_hidden()

    note = TraceAnnotation.objects.get(read__assignment=assignment)
    assert (note.target, note.label.slug, note.category, note.clinically_significant) == (
        "label",
        slug,
        "false_finding",
        False,
    )
    # Every step that names the label, and the report's mention, are the same error, marked with it.
    output = assignment.study.output_pins.get(case=assignment.case).output
    reasoning = output.turns[0]["text"]
    steps = [i for i, step in enumerate(output.steps) if mentions(reasoning[step["start"] : step["end"]], name)]
    assert steps, "the demo's reasoning names its labels"
    assert [r["step"] for r in note.repeats if r["target"] == "step"] == steps
    report = output.turns[output.report_turn]["text"]
    assert [r["turn"] for r in note.repeats if r["target"] == "text"] == (
        [output.report_turn] if mentions(report, name) else []
    )
    for step in steps:
        assert "annotated" in page.get_attribute(f".step[data-step='{step}']", "class")


def test_a_text_error_takes_five_actions_with_its_label_filled_in(full_reasoning):
    page, assignment = full_reasoning
    name = page.locator("[data-testid=ai-labels] .ai-label").first.inner_text()
    slug = page.locator("[data-testid=ai-labels] .ai-label").first.get_attribute("data-label")
    word = page.evaluate(
        """(name) => {
            const steps = [...document.querySelectorAll('[data-testid=trace] .step-text')];
            const text = steps.map(n => n.textContent).join(' ');
            return text.match(new RegExp('\\\\b' + name + 's?\\\\b', 'i'))[0];
        }""",
        name,
    )
    select_text(page, "[data-testid=trace] .step-text", word)  # 1: the selection
    page.click("[data-testid=annotate-selection]")  # 2
    assert page.evaluate(IMAGE_UNCOVERED)
    assert page.input_value("[data-testid=annotation-label]") == slug
    page.keyboard.press("3")  # 3: Wrong location or laterality
    page.keyboard.press("y")  # 4: clinically significant
    page.keyboard.press("Enter")  # 5: save
    saved(page, 1)
    note = TraceAnnotation.objects.get(read__assignment=assignment)
    assert (note.target, note.quote, note.label.slug, note.category, note.clinically_significant) == (
        "text",
        word,
        slug,
        "wrong_location",
        True,
    )
    assert page.inner_text("[data-testid=trace] mark") == word


def test_the_label_is_required_where_the_audit_counts_by_label_and_esc_cancels(full_reasoning):
    page, assignment = full_reasoning
    # The instructions say what counts as an error, and to record it once, with an example.
    page.click("[data-testid=instructions-button]")
    guide = page.inner_text("[data-testid=error-guide]")
    assert "Record each error once." in guide and guide.count("Example:") == 1
    page.keyboard.press("Escape")
    page.click("[data-testid=annotate-missed]")
    assert page.inner_text(f"{EDITOR} .label-caption") == "Label it concerns (required)"
    page.keyboard.press("y")
    page.keyboard.press("Enter")
    assert page.inner_text(f"{EDITOR} .dialog-error") == (
        "Choose the label this error concerns: the error audit counts it by its label."
    )
    # Another category that needs no label: the caption says so and the error saves without one.
    page.keyboard.press("6")  # Faulty reasoning
    assert page.inner_text(f"{EDITOR} .label-caption") == "Label it concerns"
    page.keyboard.press("Escape")
    assert page.locator(EDITOR).is_hidden()
    page.click("[data-testid=annotate-missed]")
    page.select_option("[data-testid=annotation-label]", "pneumothorax")
    page.focus(EDITOR)
    page.keyboard.press("y")
    page.keyboard.press("Enter")
    saved(page, 1)
    note = TraceAnnotation.objects.get(read__assignment=assignment)
    assert (note.target, note.category, note.label.slug) == ("output", "missed_finding", "pneumothorax")
