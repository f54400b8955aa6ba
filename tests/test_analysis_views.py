"""The analysis for coordinators: page, JSON, HTML report and plots; readers never see it; the report opens
offline in a real browser with every table and plot."""

import json
import os
import subprocess
import sys

import pytest
from django.urls import reverse

from readerstudy.analysis.refresh import compute_requested, current_analysis
from readerstudy.models import AuditEntry, Study, StudyAnalysis, StudyQuestion
from readerstudy.reading.simulation import SimulationSettings, simulate_reads
from readerstudy.studies.enrolment import add_readers
from readerstudy.studies.lifecycle import open_study
from tests.browser import chromium
from tests.factories import UserFactory, user_by_relation
from tests.reading_setup import plant_deliberate_errors, run_and_pin
from tests.test_simulation import dry_run

pytestmark = pytest.mark.django_db

PLOTS = ["time-by-arm", "reader-lines", "ratings", "accuracy", "error-flags"]
TABLES = [
    "provenance",
    "read-counts",
    "time-per-arm",
    "time-model",
    "time-per-arm-normal",
    "time-model-normal",
    "time-per-arm-abnormal",
    "time-model-abnormal",
    "rating-confidence",
    "rating-model-confidence",
    "rating-by-case-type-confidence",
    "rating-usefulness",
    "rating-trust",
    "rating-reasoning_accuracy",
    "rating-uncertainty_qualified",
    "accuracy-per-arm",
    "accuracy-per-label",
    "accuracy-model",
    "error-audit",
    "annotation-categories",
    "ai-summary",
    "ai-per-label",
    "per-reader",
    "mrmc",
    "mrmc-primary",
    "mrmc-assumption",
    "mrmc-time",
    "mrmc-time-pairs",
    "mrmc-rating-confidence",
    "mrmc-rating-confidence-pairs",
    "mrmc-jaccard",
    "mrmc-sensitivity",
    "mrmc-specificity",
    "case-type",
    "mrmc-interaction-time",
    "mrmc-interaction-jaccard",
    "mrmc-normal-time",
    "mrmc-abnormal-jaccard",
    "mrmc-per-label",
]


@pytest.fixture
def analysed(demo_case_set, coordinator):
    """A three-reader dry run, simulated and analysed; every AI read is shown at least one AI error."""
    study = dry_run(demo_case_set, [UserFactory(roles=["reader"]) for _ in range(3)], coordinator)
    plant_deliberate_errors(study)
    simulate_reads(study, SimulationSettings(seed=2))
    assert compute_requested(study.pk) == "computed"
    return study


def routes(study):
    return {
        "page": reverse("study-analysis", args=[study.pk]),
        "json": reverse("study-analysis-json", args=[study.pk]),
        "report": reverse("study-analysis-report", args=[study.pk]),
        "png": reverse("study-analysis-plot", args=[study.pk, "time-by-arm", "png"]),
        "svg": reverse("study-analysis-plot", args=[study.pk, "time-by-arm", "svg"]),
    }


@pytest.mark.parametrize(
    "user, status", [("reader", 403), ("coordinator", 200), ("admin", 200), ("another team's coordinator", 404)]
)
def test_only_the_studys_coordinators_and_admins_see_the_analysis(client, analysed, coordinator, user, status):
    client.force_login(user_by_relation(user, coordinator))
    for name, path in routes(analysed).items():
        assert client.get(path).status_code == status, name
    refresh = client.post(reverse("study-analysis-recompute", args=[analysed.pk]))
    assert refresh.status_code == (302 if status == 200 else status)


def test_anonymous_visitors_are_sent_to_log_in(client, analysed):
    for name, path in routes(analysed).items():
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), name


def test_the_json_and_report_are_the_stored_analysis_and_downloads_are_audited(client, coordinator, analysed):
    client.force_login(coordinator)
    stored = StudyAnalysis.objects.get(study=analysed)
    assert json.loads(client.get(reverse("study-analysis-json", args=[analysed.pk])).content) == stored.result
    report = client.get(reverse("study-analysis-report", args=[analysed.pk]))
    assert report["Content-Disposition"] == f'attachment; filename="study-{analysed.pk}-analysis.html"'
    assert report.content.decode() == stored.report_html
    assert list(AuditEntry.objects.filter(study=analysed, action="exported").values_list("detail", flat=True)) == [
        "Downloaded analysis.html.",
        "Downloaded analysis.json.",
    ]


def test_each_plot_comes_as_png_and_svg(client, coordinator, analysed):
    client.force_login(coordinator)
    page = client.get(reverse("study-analysis", args=[analysed.pk])).content.decode()
    for name in PLOTS:
        png = client.get(reverse("study-analysis-plot", args=[analysed.pk, name, "png"]))
        svg = client.get(reverse("study-analysis-plot", args=[analysed.pk, name, "svg"]))
        assert (png["Content-Type"], png.content[:8]) == ("image/png", b"\x89PNG\r\n\x1a\n")
        assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
        assert f'data-testid="plot-{name}"' in page
    assert client.get(reverse("study-analysis-plot", args=[analysed.pk, "time-by-arm", "gif"])).status_code == 404
    assert client.get(reverse("study-analysis-plot", args=[analysed.pk, "no-such-plot", "png"])).status_code == 404


def test_before_the_first_computation_the_page_says_so_and_recompute_queues_one(
    client, coordinator, demo_case_set, django_capture_on_commit_callbacks
):
    study = dry_run(demo_case_set, [UserFactory(roles=["reader"])], coordinator)
    client.force_login(coordinator)
    assert "No analysis yet" in client.get(reverse("study-analysis", args=[study.pk])).content.decode()
    assert "No analysis yet" in client.get(reverse("study-detail", args=[study.pk])).content.decode()
    missing = client.get(reverse("study-analysis-json", args=[study.pk]))
    assert missing.status_code == 409 and missing.json()["detail"].startswith("The analysis has not been computed yet")
    with django_capture_on_commit_callbacks() as sent:
        client.post(reverse("study-analysis-recompute", args=[study.pk]))
    assert len(sent) == 1 and StudyAnalysis.objects.get(study=study).requested_version == 1
    assert "being computed in the background" in client.get(reverse("study-analysis", args=[study.pk])).content.decode()


def test_the_study_page_shows_the_primary_endpoint(client, coordinator, analysed):
    client.force_login(coordinator)
    page = client.get(reverse("study-detail", args=[analysed.pk])).content.decode()
    per_arm = StudyAnalysis.objects.get(study=analysed).result["time"]["per_arm"]
    for row, name in zip(per_arm, ["Unaided", "AI labels only", "Full AI reasoning"]):
        assert f"<td>{name}</td><td>{row['n']}</td><td>{row['median_s']:.1f}</td>" in page
    assert (
        "Primary comparison: Reading time, Full AI reasoning vs Unaided." in page
        and 'data-testid="summary-mrmc"' in page
        and "Ratio of geometric means" in page
    )
    primary = next(
        pair
        for pair in StudyAnalysis.objects.get(study=analysed).result["mrmc"]["endpoints"][0]["pairs"]
        if pair["primary"]
    )
    assert (primary["arm"], primary["versus"]) == ("FULL_REASONING", "UNAIDED")
    assert (
        f'<tr class="primary" data-testid="summary-mrmc-FULL_REASONING-UNAIDED"><td>Full AI reasoning vs Unaided</td>'
        f"\n    <td>{primary['ratio']:.3f}</td>"
    ) in page


def test_the_html_report_opens_offline_with_every_table_and_plot(analysed, tmp_path):
    path = tmp_path / "analysis.html"
    path.write_text(current_analysis(analysed).report_html, encoding="utf-8")
    requested = []
    with chromium(webgl=False) as browser:
        page = browser.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort(),
        )
        page.goto(path.as_uri())
        present = page.evaluate("ids => ids.filter(id => document.querySelector(`[data-testid='${id}']`))", TABLES)
        drawn = page.evaluate("""() => [...document.querySelectorAll('figure img')]
            .filter(img => img.complete && img.naturalWidth > 0)
            .map(img => img.closest('figure').dataset.testid)""")
        simulated = page.inner_text("[data-testid=simulated-warning]")
    assert present == TABLES
    assert drawn == [f"plot-{name}" for name in PLOTS]
    assert [url for url in requested if not url.startswith("data:")] == [path.as_uri()]
    assert simulated.startswith("Simulated data: 54 simulated reads and 6 simulated AI outputs.")


def test_the_page_and_the_report_show_the_same_tables_for_any_question_key_and_scale(
    client, coordinator, demo_case_set
):
    """A coordinator's own question: a key with a hyphen and a scale around zero (stored results come back
    from PostgreSQL with their keys reordered, so nothing may depend on key order)."""
    study = Study.objects.create(title="Own question", case_set=demo_case_set, is_dry_run=True, randomisation_seed=3)
    study.coordinators.add(coordinator)
    StudyQuestion.objects.create(
        study=study,
        key="ai-agreement",
        text="Do you agree with the AI?",
        scale_min=-2,
        scale_max=2,
        min_anchor="Strongly disagree",
        max_anchor="Strongly agree",
        arms=["LABELS_ONLY", "FULL_REASONING"],
        order=9,
    )
    add_readers(study, [UserFactory(roles=["reader"]) for _ in range(2)])
    run_and_pin(study)
    simulate_reads(open_study(study, coordinator), SimulationSettings(seed=6))
    assert compute_requested(study.pk) == "computed"

    stored = StudyAnalysis.objects.get(study=study)
    question = next(q for q in stored.result["ratings"] if q["key"] == "ai-agreement")
    assert question["model"]["estimable"] is True and question["model"]["reference"] == "LABELS_ONLY"
    assert [bar["score"] for bar in question["per_arm"][0]["distribution"]] == [-2, -1, 0, 1, 2]
    client.force_login(coordinator)
    page = client.get(reverse("study-analysis", args=[study.pk])).content.decode()
    for testid in TABLES + ["rating-ai-agreement", "rating-model-ai-agreement"]:
        assert table_html(page, testid) == table_html(stored.report_html, testid), testid


def table_html(html, testid):
    """The element with this test id, from its opening tag to its end."""
    start = html.index(f'data-testid="{testid}"')
    start = html.rindex("<", 0, start)
    tag = html[start + 1 : html.index(" ", start)]
    return html[start : html.index(f"</{tag}>", start)]


def test_the_web_process_never_loads_the_analysis_libraries():
    code = (
        "import django, sys; django.setup(); import readerstudy.urls, readerstudy.tasks; "
        "from readerstudy.reading.reads import submit_read; "
        "print(sorted({'pandas', 'statsmodels', 'matplotlib', 'scipy'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.stdout.strip() == "[]", result.stderr
