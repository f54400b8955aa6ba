"""A question answered N/A reaches the exports as NA (not as a score, not as unanswered) and the analysis as a
count beside the scores, never inside their mean."""

import csv
import io
import json

import pytest
from django.urls import reverse

from readerstudy.analysis.dataset import load
from readerstudy.analysis.ratings import ratings_section
from readerstudy.models import Arm
from tests.reading_setup import open_study_with_assignments
from tests.test_reading_api import event, full_report, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(demo_case_set, reader, coordinator, client):
    """Confidence allows N/A; the unaided read answers it N/A, the labels-only read 4."""
    study, assignments = open_study_with_assignments(
        demo_case_set, reader, arms=[Arm.UNAIDED, Arm.LABELS_ONLY], team=[coordinator]
    )
    study.questions.filter(key="confidence").update(allows_not_applicable=True)
    client.force_login(reader)
    unaided, labels = assignments[Arm.UNAIDED], assignments[Arm.LABELS_ONLY]

    # Reading time, so that the analysis keeps both reads (a read with no active time is left out).
    def timed():
        return [event("image_rendered", 0), event("submit", 4_000)]

    ratings = {k: v for k, v in full_report(unaided)["ratings"].items() if k != "confidence"}
    assert submit(client, unaided, events=timed(), ratings=ratings, not_applicable=["confidence"]).status_code == 201
    assert (
        submit(client, labels, events=timed(), ratings={**full_report(labels)["ratings"], "confidence": 4}).status_code
        == 201
    )
    client.force_login(coordinator)
    return study


def export(client, study, fmt):
    response = client.get(reverse("study-export", args=[study.pk, "reads", fmt]))
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_the_reads_export_writes_na_for_a_question_answered_not_applicable(answered, client):
    rows = {row["arm"]: row for row in csv.DictReader(io.StringIO(export(client, answered, "csv")))}
    assert (rows["Unaided"]["rating_confidence"], rows["AI labels only"]["rating_confidence"]) == ("NA", "4")
    raw = {row["arm"]: row for row in json.loads(export(client, answered, "json"))}
    assert (raw["Unaided"]["rating_confidence"], raw["AI labels only"]["rating_confidence"]) == ("NA", 4)


def test_the_analysis_counts_not_applicable_answers_apart_from_the_scores(answered):
    [confidence] = [q for q in ratings_section(load(answered)) if q["key"] == "confidence"]
    assert confidence["allows_not_applicable"] is True
    by_arm = {row["arm"]: row for row in confidence["per_arm"]}
    assert (by_arm["UNAIDED"]["n"], by_arm["UNAIDED"]["not_applicable"], by_arm["UNAIDED"]["mean"]) == (0, 1, None)
    assert (
        by_arm["LABELS_ONLY"]["n"],
        by_arm["LABELS_ONLY"]["not_applicable"],
        by_arm["LABELS_ONLY"]["mean"],
    ) == (
        1,
        0,
        4.0,
    )
