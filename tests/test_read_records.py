"""The one loader of read records: the same number of queries for a few reads as for hundreds, and records
that say what the per-read functions say (truth, previous arm, what the arm showed)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from readerstudy.analysis.dataset import load
from readerstudy.exports import csv_lines, table
from readerstudy.models import Read
from readerstudy.reading.ai_content import ai_content
from readerstudy.reading.records import StudyReads
from readerstudy.reading.simulation import SimulationSettings, simulate_reads
from readerstudy.studies.carryover import previous_arms
from tests.factories import UserFactory
from tests.test_simulation import dry_run

pytestmark = pytest.mark.django_db


def simulated_study(case_set, coordinator, readers):
    study = dry_run(case_set, [UserFactory(roles=["reader"]) for _ in range(readers)], coordinator)
    simulate_reads(study, SimulationSettings(seed=2))
    return study


@pytest.fixture
def small(demo_case_set, coordinator):
    """18 reads: one reader, 6 cases, 3 arms."""
    return simulated_study(demo_case_set, coordinator, 1)


@pytest.fixture
def large(demo_case_set, coordinator):
    """216 reads: twelve readers."""
    return simulated_study(demo_case_set, coordinator, 12)


def queries(action):
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)


def test_exporting_or_analysing_hundreds_of_reads_makes_as_many_queries_as_a_few(small, large):
    counts, lines = [], {}
    for study in (small, large):
        counts.append(queries(lambda study=study: lines.update({study: list(table(study, "reads", csv_lines))})))
    assert (len(lines[small]), len(lines[large])) == (1 + 18, 1 + 216)
    assert counts[0] == counts[1]
    assert queries(lambda: load(small)) == queries(lambda: load(large))
    assert load(large).submitted == 216


def test_records_say_what_the_per_read_functions_say_and_pages_add_a_fixed_number_of_queries(large):
    whole = StudyReads(large)
    one_page = queries(lambda: list(whole.records()))
    paged = StudyReads(large, page_size=50)
    records = []
    five_pages = queries(lambda: records.extend(paged.records()))
    # Each further page: its findings, ratings and annotations (the reads stream from one cursor, and every
    # case's truth was loaded with the first page).
    assert five_pages - one_page == 4 * 3
    assert [(r.read.pk, r.findings, r.ratings, r.annotations) for r in records] == [
        (r.read.pk, r.findings, r.ratings, r.annotations) for r in whole.records()
    ]
    study = large
    previous = previous_arms(study)
    records = list(StudyReads(study).records())
    assert len(records) == 216
    keys = [(r.assignment.reader_id, r.assignment.session.index, r.assignment.position) for r in records]
    assert keys == sorted(keys)
    for record in records:
        read, assignment = Read.objects.get(pk=record.read.pk), record.assignment
        assert record.findings == set(read.finding_links.values_list("label__slug", flat=True))
        assert record.ratings == dict(read.ratings.values_list("question__key", "value"))
        assert [(a.label, a.category, a.clinically_significant) for a in record.annotations] == list(
            read.annotations.order_by("created_at", "pk").values_list(
                "label__slug", "category", "clinically_significant"
            )
        )
        assert record.truth == assignment.case.truth_by_slug(study.label_vocabulary)
        assert record.previous_arm == previous[assignment.pk]
        shown = ai_content(assignment)
        assert record.ai_labels == (shown["labels"] if shown else None)
        assert record.reader_code == study.readers.get(user=assignment.reader).reader_code
    assert {r.assignment.arm for r in records if r.ai_labels is None} == {"UNAIDED"}
    assert any(r.annotations for r in records) and any(r.previous_arm for r in records)


def test_reads_left_out_of_the_analysis_are_named_by_their_first_reason_here_and_on_the_progress_page(
    small, client, coordinator
):
    reads = Read.objects.filter(assignment__study=small, assignment__session__index=1).order_by("pk")
    flagged, silent, both = reads[0], reads[1], reads[2]
    Read.objects.filter(pk=flagged.pk).update(problem_flagged=True, problem_reason="motion")
    Read.objects.filter(pk=silent.pk).update(active_ms=0, idle_ms=0, hidden_ms=0, total_ms=0)
    Read.objects.filter(pk=both.pk).update(
        problem_flagged=True, problem_reason="blank", active_ms=0, total_ms=0, idle_ms=0, hidden_ms=0
    )
    reasons = {r.read.pk: r.excluded_because for r in StudyReads(small).records(content=False)}
    assert (reasons[flagged.pk], reasons[silent.pk], reasons[both.pk]) == (
        "problem_flagged",
        "zero_active_time",
        "problem_flagged",
    )
    assert sum(reason is None for reason in reasons.values()) == 15
    assert load(small).excluded == {"practice": 0, "problem_flagged": 2, "zero_active_time": 1}
    client.force_login(coordinator)
    page = client.get(reverse("study-detail", args=[small.pk])).content.decode()
    assert re.findall(r'data-testid="left-out">([^<]*)<', page) == [
        "· left out of the analysis: 2 flagged as a problem case, 1 with no active time"
    ]
