"""The image beside the reasoning, in Chromium: pointing at a reasoning step outlines the region it names on the
image (the patient's right lung on the image's left half of a PA film), the file's orientation is marked at the
image's edges, the window and zoom are shown over it, and the wheel and the keys zoom in useful steps."""

import re

import pytest

from readerstudy.models import Arm
from tests.browser import chromium, log_in, settled_context, wait_for_image
from tests.reading_setup import open_study_with_assignments
from tests.test_workstation_browser import workstation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

OUTLINE = "[data-testid=region-outline]"


def open_full_reasoning(page, live_server, demo_case_set, reader):
    _, by_arm = open_study_with_assignments(demo_case_set, reader, arms=[Arm.FULL_REASONING])
    log_in(page, live_server.url, reader.username)
    page.goto(workstation(live_server, by_arm[Arm.FULL_REASONING]))
    wait_for_image(page)
    page.wait_for_selector("[data-testid=trace] .step")


def outline_boxes(page):
    return [box.bounding_box() for box in page.locator(f"{OUTLINE} .cxr-region").all()]


def zoom_percent(page):
    return int(re.search(r"Zoom (\d+)%", page.inner_text("[data-testid=view-info]")).group(1))


def test_pointing_at_a_step_outlines_its_region_on_the_side_the_film_shows_it(live_server, demo_case_set, reader):
    with chromium() as browser, settled_context(browser, viewport={"width": 1920, "height": 1080}) as context:
        page = context.new_page()
        open_full_reasoning(page, live_server, demo_case_set, reader)
        image = page.locator("[data-testid=image]").bounding_box()
        middle = image["x"] + image["width"] / 2
        assert page.locator(OUTLINE).is_hidden()

        # The demo's films are PA with Patient Orientation L\F: the patient's right is on the image's left.
        page.hover(".step[data-region=right-lung]")
        page.wait_for_selector(f"{OUTLINE}[data-region=right-lung]:not([hidden])")
        (right_lung,) = outline_boxes(page)
        assert right_lung["x"] >= image["x"] and right_lung["x"] + right_lung["width"] <= middle
        assert right_lung["width"] > 0.2 * image["width"] / 2

        page.hover(".step[data-region=left-lung]")
        page.wait_for_selector(f"{OUTLINE}[data-region=left-lung]:not([hidden])")
        (left_lung,) = outline_boxes(page)
        assert left_lung["x"] >= middle and left_lung["x"] + left_lung["width"] <= image["x"] + image["width"]

        # Leaving the step removes the outline; focusing a step with the keyboard shows it too.
        page.hover("[data-testid=report-pane]")
        page.wait_for_selector(f"{OUTLINE}[hidden]", state="attached")
        page.focus(".step[data-region=heart]")
        page.wait_for_selector(f"{OUTLINE}[data-region=heart]:not([hidden])")
        (heart,) = outline_boxes(page)
        assert heart["x"] + heart["width"] / 2 > middle  # the heart lies mostly to the patient's left

        # The outline moves with the image: zoomed in about the centre, it grows by the zoom's factor.
        # (The viewer's keys work with a step focused.)
        page.keyboard.press("+")
        page.wait_for_timeout(100)
        (zoomed,) = outline_boxes(page)
        before = heart["width"]
        assert zoomed["width"] == pytest.approx(before * 1.25, rel=0.03)


def test_orientation_window_and_zoom_are_shown_over_the_image_and_zoom_steps_are_useful(
    live_server, demo_case_set, reader
):
    with chromium() as browser, settled_context(browser, viewport={"width": 1366, "height": 768}) as context:
        page = context.new_page()
        open_full_reasoning(page, live_server, demo_case_set, reader)
        # From Patient Orientation L\F: the patient's right at the image's left, the feet at its bottom.
        assert page.inner_text("[data-testid=marker-left]") == "R"
        assert page.inner_text("[data-testid=marker-right]") == "L"
        assert page.inner_text("[data-testid=marker-top]") == "H"
        assert page.inner_text("[data-testid=marker-bottom]") == "F"
        centre, width = page.get_attribute("[data-testid=viewer]", "data-voi").split(",")
        assert page.inner_text("[data-testid=view-info]").startswith(f"W {width} L {centre} · Zoom ")

        fitted = zoom_percent(page)
        box = page.locator("[data-testid=image]").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(5):
            page.mouse.wheel(0, -100)
            page.wait_for_timeout(50)
        page.wait_for_function(f"!/Zoom {fitted}%/.test(document.querySelector('[data-testid=view-info]').textContent)")
        page.wait_for_timeout(200)
        # Five notches: 1.15 ** 5 = 2.01 times (the old wheel zoom gave 1.14 times).
        assert zoom_percent(page) / fitted == pytest.approx(1.15**5, rel=0.03)

        page.keyboard.press("f")
        page.wait_for_function(f"/Zoom {fitted}%/.test(document.querySelector('[data-testid=view-info]').textContent)")
        page.keyboard.press("-")
        assert zoom_percent(page) / fitted == pytest.approx(1 / 1.25, rel=0.03)
        page.keyboard.press("o")
        assert "Zoom 100%" in page.inner_text("[data-testid=view-info]")


def test_the_magnifier_shows_a_loupe_while_the_button_is_held(live_server, demo_case_set, reader):
    with chromium() as browser, settled_context(browser, viewport={"width": 1366, "height": 768}) as context:
        page = context.new_page()
        open_full_reasoning(page, live_server, demo_case_set, reader)
        page.locator("[data-testid=image]").focus()
        page.keyboard.press("l")
        assert "active" in page.get_attribute("[data-testid=viewer] [data-tool=magnify]", "class")
        box = page.locator("[data-testid=image]").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 20, box["y"] + box["height"] / 2 + 10, steps=3)
        loupe = page.wait_for_selector("[data-testid=image] .magnifyTool", state="visible")
        assert loupe.bounding_box()["width"] > 50
        page.mouse.up()
        page.wait_for_selector("[data-testid=image] .magnifyTool", state="detached")
