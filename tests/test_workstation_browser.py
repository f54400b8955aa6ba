"""The workstation in Debian's Chromium against a live server: reading in each arm, annotation, timing with
a hidden tab, offline submit, draft restore, the 1920×1080 layout, the CPU-rendering fallback and the cache
emptied at logout. Every test runs under the site's Content-Security-Policy (tests/browser.py: settled)."""

import time

import pydicom
import pytest

from readerstudy.core import dicom_store
from readerstudy.models import Arm, Read, TimingEvent, TraceAnnotation
from readerstudy.studies import served_images
from tests.browser import (
    chromium,
    chromium_with_profile,
    image_spread,
    log_in,
    select_text,
    set_visibility,
    settled_context,
    wait_for_image,
)
from tests.reading_setup import open_study_with_assignments

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def browser():
    # Per test, not per module: while Playwright's loop runs, Django hands out other connection objects, and
    # the next test's serialized rollback must find the original one (with the migration-seeded rows).
    with chromium() as browser:
        yield browser


@pytest.fixture
def reading(demo_case_set, reader):
    # Each test opens the arm it is about; the enforced reading order has its own tests (test_reading_order.py).
    study, assignments = open_study_with_assignments(demo_case_set, reader, canaries=True, free_order=True)
    return study, assignments


@pytest.fixture
def page(browser, live_server, reader, reading):
    with settled_context(browser, viewport={"width": 1920, "height": 1080}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        yield page


def workstation(live_server, assignment):
    return f"{live_server.url}/read/{assignment.public_id}/"


def session_end(live_server, assignment):
    """Where the last submit of the assignment's session lands."""
    return f"{live_server.url}/read/sessions/{assignment.session_id}/complete/"


def fill_report(page, ratings):
    page.check("[data-testid=finding-consolidation]")
    page.check("[data-testid=finding-pleural-effusion]")
    page.fill("[data-testid=report-text]", "Right lower zone consolidation with a small effusion.")
    page.fill("[data-testid=report-impression]", "Right lower lobe pneumonia.")
    for key in ratings:
        page.check(f"[data-testid=rating-{key}] input[value='4']")


def questions(assignment):
    return [q.key for q in assignment.study.questions.all() if q.is_asked_in(assignment.arm)]


def submit_and_wait(page, live_server, next_path):
    page.click("[data-testid=submit-read]")
    page.wait_for_url(f"{live_server.url}{next_path}", timeout=20_000)


def test_a_reader_reads_one_case_in_each_arm(page, live_server, reading, tmp_path):
    study, assignments = reading
    page.goto(f"{live_server.url}/read/")
    page.click("[data-testid=continue]")

    # 1. Unaided: the image and the report form, no AI panel at all.
    unaided = assignments[Arm.UNAIDED]
    page.wait_for_url(workstation(live_server, unaided))
    wait_for_image(page)
    assert page.get_attribute("[data-testid=viewer]", "data-renderer") == "webgl"
    assert image_spread(page, tmp_path / "unaided.png") > 5
    assert page.locator("[data-testid=ai-panel]").count() == 0
    voi_before = page.get_attribute("[data-testid=viewer]", "data-voi")
    box = page.locator("[data-testid=viewer] canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2 + 60, steps=8)
    page.mouse.up()
    page.wait_for_function(f"() => document.querySelector('[data-testid=viewer]').dataset.voi !== '{voi_before}'")
    fill_report(page, questions(unaided))
    submit_and_wait(page, live_server, f"/read/{assignments[Arm.LABELS_ONLY].public_id}/")

    # 2. Labels only: the AI's labels appear after the image, with no reasoning or report.
    labels_only = assignments[Arm.LABELS_ONLY]
    wait_for_image(page)
    page.wait_for_selector("[data-testid=ai-labels]")
    assert page.inner_text("[data-testid=ai-labels]").split("\n") == ["Consolidation", "Pleural Effusion", "Pneumonia"]
    assert page.locator("[data-testid=trace]").count() == 0 and page.locator("[data-testid=ai-report]").count() == 0
    page.click("[data-testid=ai-labels] >> text=Pneumonia")
    page.select_option("[data-testid=annotation-category]", "false_finding")
    page.check("[data-testid=annotation-significant-no]")
    page.click("[data-testid=annotation-save]")
    fill_report(page, questions(labels_only))
    submit_and_wait(page, live_server, f"/read/{assignments[Arm.FULL_REASONING].public_id}/")

    # 3. Full reasoning: steps with their regions, labels and the structured report; annotate a sentence.
    full = assignments[Arm.FULL_REASONING]
    wait_for_image(page)
    page.wait_for_selector("[data-testid=trace] .step")
    assert "Right lung" in page.inner_text("[data-testid=trace]")
    assert page.inner_text("[data-testid=ai-report]").startswith("FINDINGS:")
    sentence = "a small right pleural effusion blunts the costophrenic angle"
    select_text(page, "[data-testid=trace] .step-text", sentence)
    page.click("[data-testid=annotate-selection]")
    page.select_option("[data-testid=annotation-category]", "wrong_severity")
    page.check("[data-testid=annotation-significant-yes]")
    page.click("[data-testid=annotation-save]")
    assert page.inner_text("[data-testid=trace] mark") == sentence
    fill_report(page, questions(full))
    submit_and_wait(page, live_server, f"/read/sessions/{full.session_id}/complete/")
    assert page.inner_text("[data-testid=heading]") == "Session 1 of 1 complete"
    assert page.inner_text("[data-testid=cases-read]") == "You read 3 cases in this session."
    assert (
        page.inner_text("[data-testid=next]") == "You have finished every session of this study. Thank you for reading."
    )

    reads = {r.assignment.arm: r for r in Read.objects.select_related("assignment")}
    assert set(reads) == {Arm.UNAIDED, Arm.LABELS_ONLY, Arm.FULL_REASONING}
    for read in reads.values():
        assert read.submitted_at is not None and read.active_ms > 0
        assert sorted(read.finding_links.values_list("label__slug", flat=True)) == ["consolidation", "pleural-effusion"]
        assert dict(read.ratings.values_list("question__key", "value")) == {k: 4 for k in questions(read.assignment)}
        types = set(TimingEvent.objects.filter(assignment=read.assignment).values_list("type", flat=True))
        assert {"page_shown", "image_rendered", "submit"} <= types
    assert {"interaction_start", "interaction_end"} <= set(
        TimingEvent.objects.filter(assignment=unaided).values_list("type", flat=True)
    )
    assert {"ai_panel_shown", "annotation_added"} <= set(
        TimingEvent.objects.filter(assignment=full).values_list("type", flat=True)
    )
    text_note = TraceAnnotation.objects.get(read__assignment=full)
    raw = full.study.output_pins.get(case=full.case).output.turns[0]["text"]
    assert (text_note.quote, raw[text_note.start : text_note.end], text_note.category) == (
        sentence,
        sentence,
        "wrong_severity",
    )
    label_note = TraceAnnotation.objects.get(read__assignment=labels_only)
    assert (label_note.target, label_note.label.slug, label_note.clinically_significant) == (
        "label",
        "pneumonia",
        False,
    )


def test_a_hidden_tab_interval_is_excluded_from_active_time(page, live_server, reading):
    study, assignments = reading
    assignment = assignments[Arm.UNAIDED]
    page.goto(workstation(live_server, assignment))
    rendered = wait_for_image(page)
    fill_report(page, questions(assignment))
    hidden = set_visibility(page, "hidden")
    page.wait_for_timeout(5_000)
    visible = set_visibility(page, "visible")
    page.fill("[data-testid=report-impression]", "Right lower lobe pneumonia, small effusion.")
    # The script's reading ends when its click reaches the page (Playwright first scrolls and waits).
    page.evaluate("""() => document.addEventListener('click', () => { window.clickedAt = performance.now(); },
                                                   {capture: true, once: true})""")
    page.click("[data-testid=submit-read]")
    clicked = page.evaluate("window.clickedAt")
    page.wait_for_url(workstation(live_server, assignments[Arm.LABELS_ONLY]))

    read = Read.objects.get(assignment=assignment)
    script_active = (clicked - rendered) - (visible - hidden)
    assert abs(read.active_ms - script_active) <= 250, (read.active_ms, script_active)
    assert abs(read.hidden_ms - (visible - hidden)) <= 50
    assert read.idle_ms == 0 and read.total_ms == read.active_ms + read.hidden_ms
    assert read.client_times["active_ms"] == read.active_ms


# Notes, in the page's clock, the reader's every input of the kinds the page watches (capturing on window, so
# before the page's own listeners on document see it).
NOTE_INPUTS = """() => ['keydown', 'pointerdown', 'pointermove', 'wheel', 'input'].forEach(type =>
    window.addEventListener(type, () => { window.lastInputAt = performance.now(); }, {capture: true}))"""


def test_idle_time_is_counted_from_the_readers_last_input(page, live_server, demo_case_set, reader):
    """Quick inputs, 9 s without any, 4 s hidden, submit: with a 4 s threshold the idle time is the gap less
    4 s, from the last input itself, not from the last input event the page's throttle happened to send."""
    study, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED], idle_threshold_s=4)
    assignment = assignments[Arm.UNAIDED]
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    page.evaluate(NOTE_INPUTS)
    fill_report(page, questions(assignment))
    page.wait_for_timeout(9_000)
    last_input = page.evaluate("window.lastInputAt")
    hidden = set_visibility(page, "hidden")
    page.wait_for_timeout(4_000)
    visible = set_visibility(page, "visible")
    # The Submit click's pointerdown comes within 2 s of its pointermove: it is sent with the submit.
    page.evaluate("""() => window.addEventListener('pointerdown', () => localStorage.setItem('submitPressedAt',
                                                   performance.now()), {capture: true, once: true})""")
    submit_and_wait(page, live_server, f"/read/sessions/{assignment.session_id}/complete/")
    pressed = float(page.evaluate("localStorage.getItem('submitPressedAt')"))
    read = Read.objects.get(assignment=assignment)
    assert abs(read.idle_ms - (hidden - last_input - 4_000)) <= 50, (read.idle_ms, hidden - last_input - 4_000)
    assert abs(read.hidden_ms - (visible - hidden)) <= 50, (read.hidden_ms, visible - hidden)
    # The last input before the gap, and the last before submit, were sent with their own times.
    sent = TimingEvent.objects.filter(assignment=assignment, type="input").values_list("client_ms", flat=True)
    assert min(abs(at - last_input) for at in sent) < 1
    assert min(abs(at - pressed) for at in sent) < 1


def test_an_offline_submit_is_sent_once_when_the_network_returns(page, live_server, reading):
    study, assignments = reading
    assignment = assignments[Arm.UNAIDED]
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    fill_report(page, questions(assignment))
    page.context.set_offline(True)
    page.dblclick("[data-testid=submit-read]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=save-status]').textContent === 'Offline — will retry'"
    )
    assert not Read.objects.filter(assignment=assignment, submitted_at__isnull=False).exists()
    page.context.set_offline(False)
    page.wait_for_url(workstation(live_server, assignments[Arm.LABELS_ONLY]), timeout=30_000)
    read = Read.objects.get(assignment=assignment)
    assert read.submitted_at is not None
    assert TimingEvent.objects.filter(assignment=assignment, type="submit").count() == 1


def test_a_reload_restores_the_draft_and_the_clock_continues(page, live_server, reading):
    study, assignments = reading
    assignment = assignments[Arm.FULL_REASONING]
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    page.check("[data-testid=finding-pneumothorax]")
    page.fill("[data-testid=report-text]", "Left apical pneumothorax.")
    page.check("[data-testid=rating-confidence] input[value='2']")
    page.wait_for_function("() => document.querySelector('[data-testid=save-status]').textContent === 'Saved'")
    page.wait_for_timeout(1_000)
    page.reload()
    wait_for_image(page)
    page.wait_for_function("() => document.querySelector('[data-testid=report-text]').value !== ''")
    assert page.input_value("[data-testid=report-text]") == "Left apical pneumothorax."
    assert page.is_checked("[data-testid=finding-pneumothorax]")
    assert page.is_checked("[data-testid=rating-confidence] input[value='2']")
    for key in questions(assignment):
        page.check(f"[data-testid=rating-{key}] input[value='3']")
    # The session's earlier cases are still unread, so the first of them opens next.
    submit_and_wait(page, live_server, f"/read/{assignments[Arm.UNAIDED].public_id}/")
    read = Read.objects.get(assignment=assignment)
    assert TimingEvent.objects.filter(assignment=assignment).values("page_load_id").distinct().count() == 2
    assert read.findings.get().slug == "pneumothorax"


def test_the_workstation_at_1920_by_1080_shows_image_and_reasoning_side_by_side(page, live_server, reading, tmp_path):
    study, assignments = reading
    page.goto(workstation(live_server, assignments[Arm.FULL_REASONING]))
    wait_for_image(page)
    page.wait_for_selector("[data-testid=trace] .step")
    page.screenshot(path=tmp_path / "workstation.png")
    viewer = page.locator("[data-testid=viewer]").bounding_box()
    panel = page.locator("[data-testid=ai-panel]").bounding_box()
    assert viewer["x"] + viewer["width"] <= panel["x"]
    assert viewer["height"] >= 900 and viewer["y"] + viewer["height"] <= 1080
    assert page.evaluate("document.scrollingElement.scrollHeight") <= 1080


def test_without_webgl_the_viewer_renders_on_the_cpu(live_server, reader, reading, tmp_path):
    study, assignments = reading
    with chromium(webgl=False) as browser, settled_context(browser, viewport={"width": 1280, "height": 900}) as context:
        page = context.new_page()
        assert page.evaluate("!!document.createElement('canvas').getContext('webgl2')") is False
        log_in(page, live_server.url, reader.username)
        page.goto(workstation(live_server, assignments[Arm.UNAIDED]))
        wait_for_image(page)
        assert page.get_attribute("[data-testid=viewer]", "data-renderer") == "cpu"
        assert image_spread(page, tmp_path / "cpu.png") > 5


@pytest.fixture
def two_view_reading(dicom_store, synthetic_dir, reader, tmp_path):
    """A study whose first case has a frontal and a lateral image."""
    import shutil

    import pydicom
    from pydicom.uid import generate_uid

    from tests.conftest import import_as_demo

    folder = tmp_path / "two-view"
    shutil.copytree(synthetic_dir, folder)
    lateral = pydicom.dcmread(folder / "case-0001" / "frontal.dcm")
    lateral.ViewPosition = "LL"
    lateral.SOPInstanceUID = lateral.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    lateral.SeriesInstanceUID = generate_uid()
    lateral.PixelData = lateral.pixel_array[:, ::-1].copy().tobytes()
    lateral.save_as(folder / "case-0001" / "lateral.dcm")
    case_set = import_as_demo(folder)
    return open_study_with_assignments(case_set, reader, arms=[Arm.UNAIDED])


def viewer_state(page):
    return page.evaluate("""() => { const v = document.querySelector('[data-testid=viewer]').dataset;
        return {state: v.state, index: v.imageIndex, voi: v.voi, invert: v.invert}; }""")


def test_viewer_keys_switch_images_apply_presets_invert_and_reset(browser, live_server, reader, two_view_reading):
    study, assignments = two_view_reading
    with settled_context(browser, viewport={"width": 1600, "height": 1000}) as context:
        check_viewer_keys(context.new_page(), live_server, reader, assignments)


def test_a_frontal_and_a_lateral_are_shown_side_by_side(browser, live_server, reader, two_view_reading):
    study, assignments = two_view_reading
    with settled_context(browser, viewport={"width": 1920, "height": 1080}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        page.goto(workstation(live_server, assignments[Arm.UNAIDED]))
        wait_for_image(page)
        page.wait_for_selector("[data-testid=viewer-lateral][data-state=ready]", timeout=30_000)
        frontal = page.locator("[data-testid=image]").bounding_box()
        lateral = page.locator("[data-testid=image-lateral]").bounding_box()
        assert lateral["x"] >= frontal["x"] + frontal["width"] - 1
        assert lateral["width"] == pytest.approx(frontal["width"], abs=2) and frontal["width"] > 400
        # The frontal's keys stay the main viewer's; the lateral has its own tools and gestures.
        assert page.get_attribute("[data-testid=viewer]", "data-image-index") == "0"
        box = lateral
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2 + 40, steps=5)
        page.mouse.up()
        page.wait_for_function("() => document.querySelector('[data-testid=viewer-lateral]').dataset.voi !== undefined")
        before = page.get_attribute("[data-testid=viewer]", "data-voi")
        assert page.get_attribute("[data-testid=viewer-lateral]", "data-voi") != before


def check_viewer_keys(page, live_server, reader, assignments):
    log_in(page, live_server.url, reader.username)
    page.goto(workstation(live_server, assignments[Arm.UNAIDED]))
    wait_for_image(page)
    assert page.locator("[data-testid=viewer] [data-image]").all_inner_texts() == ["PA", "LL"]
    initial = viewer_state(page)
    assert initial["index"] == "0"

    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('[data-testid=viewer]').dataset.imageIndex === '1'")
    page.wait_for_selector("[data-testid=viewer][data-state=ready]")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelector('[data-testid=viewer]').dataset.imageIndex === '0'")

    # The file's own window first, then the chest presets, numbered for the digit keys.
    options = page.locator("[data-testid=viewer] select option").all_inner_texts()
    assert options == [
        "Window presets",
        "1. DEFAULT",
        "2. FULL",
        "3. Full range",
        "4. Lung",
        "5. Mediastinum / soft tissue",
        "6. Bone",
    ]
    page.keyboard.press("4")
    after_preset = viewer_state(page)
    assert after_preset["voi"] != initial["voi"]
    page.keyboard.press("i")
    assert viewer_state(page)["invert"] != initial["invert"]
    page.keyboard.press("r")
    assert viewer_state(page) == initial


def test_an_image_that_cannot_be_loaded_says_so_keeps_the_report_closed_and_can_be_tried_again(
    page, live_server, reading
):
    study, assignments = reading
    assignment = assignments[Arm.UNAIDED]
    stored = dicom_store.absolute_path(assignment.case.images.get().stored_path)
    content = stored.read_bytes()
    stored.unlink()
    page.goto(workstation(live_server, assignment))
    page.wait_for_selector("[data-testid=viewer][data-state=error]", timeout=30_000)
    assert page.inner_text("[data-testid=image-error]") == "The image could not be loaded (HTTP 403)."
    assert "Use Try again on the image; if it keeps failing, flag a problem with this case below." in page.inner_text(
        "#banner"
    )
    # The report waits for the image; a problem with the case can be flagged meanwhile.
    assert page.inner_text("[data-testid=image-note]") == (
        "The report opens when the image is shown. If the image cannot be loaded, flag a problem with this case below."
    )
    assert page.evaluate("document.querySelector('fieldset.findings').inert") is True
    assert page.is_editable("[data-testid=problem-flag]")

    stored.write_bytes(content)
    page.click("[data-testid=image-retry]")
    wait_for_image(page)
    assert page.is_hidden("[data-testid=image-note]") and page.is_hidden("#banner")
    page.check("[data-testid=finding-consolidation]")
    assert page.is_checked("[data-testid=finding-consolidation]")


def save_status(page):
    return page.inner_text("[data-testid=save-status]")


def test_an_expired_login_keeps_the_draft_until_the_reader_logs_in_again(page, live_server, reader, reading):
    from django.contrib.sessions.models import Session

    study, assignments = reading
    assignment = assignments[Arm.UNAIDED]
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    Session.objects.all().delete()
    page.check("[data-testid=finding-cardiomegaly]")
    page.wait_for_function("() => document.querySelector('[data-testid=save-status]').dataset.state === 'login'")
    assert save_status(page) == "Login expired — log in again; your work is kept"
    assert "Log in again" in page.inner_text("#banner")

    second = page.context.new_page()
    log_in(second, live_server.url, reader.username)
    second.close()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=save-status]').textContent === 'Saved'", timeout=20_000
    )
    assert Read.objects.get(assignment=assignment).draft["findings"] == ["cardiomegaly"]


def test_logging_out_sends_the_queue_first_and_warns_when_it_cannot(page, live_server, reader, reading):
    study, assignments = reading
    assignment = assignments[Arm.UNAIDED]
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    queue_key = f"readerstudy:outbox:{reader.pk}"

    # Offline: the reader is warned, and may stay.
    page.context.set_offline(True)
    page.fill("[data-testid=report-text]", "Written offline.")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=save-status]').textContent === 'Offline — will retry'",
        timeout=20_000,
    )
    warnings = []
    page.once("dialog", lambda dialog: (warnings.append(dialog.message), dialog.dismiss()))
    page.click("#logout-form button")
    page.wait_for_timeout(500)
    assert warnings == ["Some of your reading could not be sent to the server yet. Log out anyway and lose it?"]
    assert page.url == workstation(live_server, assignment)

    # Back online: logging out sends the draft, then clears this user's queue.
    page.context.set_offline(False)
    page.click("#logout-form button")
    page.wait_for_url(f"{live_server.url}/**", timeout=20_000)
    page.wait_for_function("() => location.pathname !== '/read/%s/'" % assignment.public_id)
    assert Read.objects.get(assignment=assignment).report_findings == "Written offline."
    assert page.evaluate(f"localStorage.getItem('{queue_key}')") is None


def test_the_next_cases_images_are_fetched_while_the_current_case_is_read(page, live_server, reading):
    study, assignments = reading
    following = assignments[Arm.LABELS_ONLY]
    with page.expect_request(f"{live_server.url}/api/assignments/{following.public_id}/images/1/") as prefetch:
        page.goto(workstation(live_server, assignments[Arm.UNAIDED]))
        wait_for_image(page)
    response = prefetch.value.response()
    assert (response.status, response.header_value("cache-control")) == (200, "private, max-age=3600")


def files_holding(folder, marker):
    return [path for path in folder.rglob("*") if path.is_file() and marker in path.read_bytes()]


def test_logging_out_deletes_the_cached_images_from_the_browsers_disk(live_server, reader, reading, tmp_path):
    """On a shared workstation the next user must not find the last reader's images in the browser's cache:
    the current case's and the prefetched next case's are on disk while reading, and gone after logout."""
    study, assignments = reading
    current, following = assignments[Arm.UNAIDED], assignments[Arm.LABELS_ONLY]
    profile = tmp_path / "profile"
    with chromium_with_profile(profile, viewport={"width": 1280, "height": 900}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        page.goto(workstation(live_server, current))
        wait_for_image(page)
        # Each assignment's served copy has UIDs of its own, so its UID finds its bytes in the cache.
        markers = [served_uid(assignment) for assignment in (current, following)]
        deadline = time.monotonic() + 15
        while not all(files_holding(profile, marker) for marker in markers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(files_holding(profile, marker) for marker in markers)
        page.click("#logout-form button")
        page.wait_for_url(f"{live_server.url}/login/")
        deadline = time.monotonic() + 15
        while any(files_holding(profile, marker) for marker in markers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [files_holding(profile, marker) for marker in markers] == [[], []]
        # From the network, the signed-out browser gets nothing either.
        assert [
            page.evaluate("url => fetch(url).then(r => r.status)", f"/api/assignments/{a.public_id}/images/1/")
            for a in (current, following)
        ] == [401, 401]


def served_uid(assignment):
    image = assignment.case.images.order_by("index").first()
    path = dicom_store.absolute_path(served_images.served_file(assignment, 1, image))
    return pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID.encode()


def test_pause_stops_the_clock_and_hides_the_case(page, live_server, reading):
    study, assignments = reading
    assignment = assignments[Arm.UNAIDED]
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    fill_report(page, questions(assignment))
    page.evaluate("""() => document.addEventListener('click', e => {
        if (e.target.matches('[data-testid=pause], [data-testid=resume]')) (window.toggles ||= []).push(performance.now());
    }, {capture: true})""")
    page.click("[data-testid=pause]")
    assert page.is_visible("#pause-overlay")
    page.wait_for_timeout(2_000)
    page.click("[data-testid=resume]")
    assert not page.is_visible("#pause-overlay")
    paused, resumed = page.evaluate("window.toggles")
    submit_and_wait(page, live_server, f"/read/{assignments[Arm.LABELS_ONLY].public_id}/")
    read = Read.objects.get(assignment=assignment)
    assert abs(read.hidden_ms - (resumed - paused)) <= 50
    assert list(
        TimingEvent.objects.filter(assignment=assignment, type__in=["pause", "resume"])
        .order_by("client_ms")
        .values_list("type", flat=True)
    ) == ["pause", "resume"]


def test_the_browser_names_missing_fields_before_sending_anything(page, live_server, reading):
    study, assignments = reading
    assignment = assignments[Arm.LABELS_ONLY]
    page.goto(workstation(live_server, assignment))
    wait_for_image(page)
    # No Finding comes first, and unticking a box is never silent.
    assert page.get_attribute("fieldset.findings input[name=finding] >> nth=0", "value") == "no-finding"
    page.check("[data-testid=finding-lung-opacity]")
    page.check("[data-testid=finding-edema]")
    page.check("[data-testid=finding-no-finding]")
    assert not page.is_checked("[data-testid=finding-lung-opacity]") and not page.is_checked(
        "[data-testid=finding-edema]"
    )
    assert page.inner_text("[data-testid=findings-notice]") == (
        "Unticked Edema, Lung Opacity: they cannot be combined with “No Finding”."
    )
    page.check("[data-testid=finding-edema]")
    assert not page.is_checked("[data-testid=finding-no-finding]")
    assert (
        page.inner_text("[data-testid=findings-notice]") == "Unticked No Finding: it cannot be combined with “Edema”."
    )
    page.uncheck("[data-testid=finding-edema]")
    assert page.inner_text("[data-testid=findings-notice]") == ""
    page.click("[data-testid=submit-read]")
    errors = page.locator(".field-error:not(:empty)").all_inner_texts()
    assert errors == [
        "Choose at least one finding, or “No Finding”.",
        "Write the report: findings, impression or both.",
        "Answer this question.",
        "Answer this question.",
        "Answer this question.",
    ]
    assert page.inner_text("#form-error") == "Please correct the marked fields."
    assert not Read.objects.filter(assignment=assignment, submitted_at__isnull=False).exists()


def test_the_problem_reason_appears_only_when_the_case_is_flagged(page, live_server, reading):
    study, assignments = reading
    page.goto(workstation(live_server, assignments[Arm.UNAIDED]))
    wait_for_image(page)
    assert not page.is_visible("[data-testid=problem-reason]")
    page.check("[data-testid=problem-flag]")
    assert page.is_visible("[data-testid=problem-reason]")
    page.fill("[data-testid=problem-reason]", "Image cut off at the bases.")
    submit_and_wait(page, live_server, f"/read/{assignments[Arm.LABELS_ONLY].public_id}/")
    read = Read.objects.get(assignment=assignments[Arm.UNAIDED])
    assert (read.problem_flagged, read.problem_reason, read.findings.count()) == (
        True,
        "Image cut off at the bases.",
        0,
    )


def test_the_probability_of_abnormality_is_typed_checked_kept_in_the_draft_and_stored(
    browser, live_server, reader, demo_case_set
):
    study, assignments = open_study_with_assignments(demo_case_set, reader, arms=[Arm.UNAIDED], asks_abnormality=True)
    assignment = assignments[Arm.UNAIDED]
    with settled_context(browser, viewport={"width": 1920, "height": 1080}) as context:
        page = context.new_page()
        log_in(page, live_server.url, reader.username)
        page.goto(workstation(live_server, assignment))
        wait_for_image(page)
        # 0–100 is typed, not a row of 101 radio buttons.
        assert page.locator("[data-testid=rating-abnormality] input[type=radio]").count() == 0
        page.check("[data-testid=finding-edema]")
        page.fill("[data-testid=report-text]", "Interstitial oedema.")
        page.check("[data-testid=rating-confidence] input[value='4']")
        page.fill("[data-testid=rating-abnormality-number]", "150")
        page.click("[data-testid=submit-read]")
        assert page.locator(".field-error:not(:empty)").all_inner_texts() == ["Choose a whole number from 0 to 100."]
        page.fill("[data-testid=rating-abnormality-number]", "73")
        page.wait_for_function("() => document.querySelector('[data-testid=save-status]').textContent === 'Saved'")
        page.reload()
        wait_for_image(page)
        page.wait_for_function("() => document.querySelector('[data-testid=rating-abnormality-number]').value !== ''")
        assert page.input_value("[data-testid=rating-abnormality-number]") == "73"
        page.click("[data-testid=submit-read]")
        page.wait_for_function(f"() => location.pathname !== '/read/{assignment.public_id}/'", timeout=20_000)
    read = Read.objects.get(assignment=assignment)
    assert dict(read.ratings.values_list("question__key", "value")) == {"confidence": 4, "abnormality": 73}
