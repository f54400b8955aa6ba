"""The workstation's layout in Chromium: at 1366×768 and 1920×1080, in every arm, the report's first field and
Submit are on screen and uncovered without any scrolling, the image keeps at least 55% of the width, and a
structured report that restates the reasoning starts folded."""

import pytest

from readerstudy.models import Arm
from tests.browser import chromium, log_in, settled_context, wait_for_image
from tests.reading_setup import open_study_with_assignments
from tests.test_workstation_browser import workstation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Whether the element's centre is on screen and the element itself is what is there (no pane covers it).
IN_VIEW = """(selector) => {
    const node = document.querySelector(selector);
    const box = node.getBoundingClientRect();
    const [x, y] = [box.left + box.width / 2, box.top + box.height / 2];
    const onScreen = box.top >= 0 && box.bottom <= innerHeight && box.left >= 0 && box.right <= innerWidth;
    const shown = document.elementFromPoint(x, y);
    return onScreen && (shown === node || node.contains(shown) || shown.contains(node));
}"""


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_the_report_and_submit_are_in_view_in_every_arm_without_scrolling(live_server, demo_case_set, reader, size):
    _, by_arm = open_study_with_assignments(demo_case_set, reader, free_order=True)
    width, height = size
    with chromium() as browser, settled_context(browser, viewport={"width": width, "height": height}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        for arm in (Arm.UNAIDED, Arm.LABELS_ONLY, Arm.FULL_REASONING):
            page.goto(workstation(live_server, by_arm[arm]))
            wait_for_image(page)
            if arm == Arm.FULL_REASONING:
                page.wait_for_selector("[data-testid=trace] .step")
            elif arm == Arm.LABELS_ONLY:
                page.wait_for_selector("[data-testid=ai-labels]")
            first_field = "#report-form input[name=finding]"
            assert page.evaluate(IN_VIEW, first_field), (arm, size, "first field")
            assert page.evaluate(IN_VIEW, "[data-testid=submit-read]"), (arm, size, "submit")
            assert page.evaluate("document.scrollingElement.scrollTop") == 0
            assert page.evaluate("document.scrollingElement.scrollHeight") <= height
            viewer = page.locator("[data-testid=viewer]").bounding_box()
            assert viewer["width"] >= 0.55 * width, (arm, size, viewer)
            if arm == Arm.FULL_REASONING:
                # The reasoning scrolls in its own pane, beside or above the report, never over it.
                ai = page.locator("[data-testid=ai-panel]").bounding_box()
                report = page.locator("[data-testid=report-pane]").bounding_box()
                assert ai["y"] + ai["height"] <= report["y"] + 1 or ai["x"] + ai["width"] <= report["x"] + 1
                # The simulated model's structured report restates its reasoning: it starts folded.
                assert page.evaluate("document.querySelector('[data-testid=ai-report-fold]').open") is False


# Every visible piece of text in the bars, the viewer's legend and toolbar and the side panes, with its WCAG
# contrast ratio against the first opaque background behind it (disabled controls are exempt in WCAG).
CONTRASTS = """() => {
    const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => {
        const [R, G, B] = [r, g, b].map((c) => {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * R + 0.7152 * G + 0.0722 * B;
    };
    const background = (node) => {
        for (; node; node = node.parentElement) {
            const colour = rgb(getComputedStyle(node).backgroundColor);
            if (colour.length < 4 || colour[3] === 1) return colour.slice(0, 3);
        }
        return [255, 255, 255];
    };
    const scope = ".ws-bar, .cxr-legend, .cxr-toolbar, .ws-side";
    const found = [];
    for (const node of document.querySelectorAll(`${scope}, :is(${scope}) *`)) {
        const own = [...node.childNodes].some((c) => c.nodeType === Node.TEXT_NODE && c.textContent.trim());
        if (!own || node.disabled || node.closest("[disabled]") || !node.checkVisibility()) continue;
        const [a, b] = [luminance(rgb(getComputedStyle(node).color)), luminance(background(node))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        found.push([node.tagName.toLowerCase() + "." + node.className, node.textContent.trim().slice(0, 30), ratio]);
    }
    return found;
}"""


def test_every_text_of_the_workstation_has_a_contrast_of_at_least_4_5(live_server, demo_case_set, reader):
    _, by_arm = open_study_with_assignments(demo_case_set, reader, arms=[Arm.FULL_REASONING])
    with chromium() as browser, settled_context(browser, viewport={"width": 1920, "height": 1080}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        page.goto(workstation(live_server, by_arm[Arm.FULL_REASONING]))
        wait_for_image(page)
        page.wait_for_selector("[data-testid=trace] .step")
        texts = page.evaluate(CONTRASTS)
    names = {name for name, _, _ in texts}
    # The legend, the form's legends and the rating anchors are among the texts checked.
    assert {"div.cxr-legend", "legend.", "span.anchor"} <= names, names
    low = [(name, text, round(ratio, 2)) for name, text, ratio in texts if ratio < 4.5]
    assert low == []
