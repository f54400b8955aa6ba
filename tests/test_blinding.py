"""Blinding, checked on every response a reader can get for an assignment (ARCHITECTURE.md: rules that protect a study).

Canary tokens sit in every turn of the pinned output, in its provenance and in its record of deliberate
errors, in the cases' source ids and in other reads of the same case; no response may carry what the
assignment's arm does not allow, not even as a run of eight consecutive words.
"""

import re

import pytest
from django.urls import reverse

from readerstudy.models import Arm, Assignment, ReadingSession
from tests.factories import UserFactory
from tests.reading_setup import (
    CANARY_REASONING,
    CANARY_REPORT,
    ERRORS_CANARY,
    PROVENANCE_CANARY,
    REASONING_CANARY,
    REPORT_CANARY,
    SOURCE_CANARY,
    open_study_with_assignments,
)
from tests.test_reading_api import annotation, event, post, submit, url

pytestmark = pytest.mark.django_db

OWN_READ_CANARY = "zebracanaryownread"
OTHER_READER_CANARY = "zebracanaryotherreader"
NEVER = [PROVENANCE_CANARY, ERRORS_CANARY, SOURCE_CANARY, OWN_READ_CANARY, OTHER_READER_CANARY]


def words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def eight_word_runs(text):
    tokens = words(re.sub(r"</?(think|answer)>", " ", text))
    return {" ".join(tokens[i : i + 8]) for i in range(len(tokens) - 7)}


REASONING_RUNS = eight_word_runs(CANARY_REASONING.split("<answer>")[0])
REPORT_RUNS = eight_word_runs(CANARY_REPORT)


def every_response(client, assignment):
    """The text of every response the reader can get while reading `assignment`, through to submit."""
    bodies = []

    def keep(response):
        assert response.status_code < 500, response
        content = b"".join(response.streaming_content) if response.streaming else response.content
        bodies.append(content.decode("latin-1"))
        return response

    keep(client.get(reverse("worklist")))
    keep(client.get(reverse("workstation", args=[assignment.public_id])))
    keep(client.get(reverse("api-assignments")))
    keep(client.get(url("api-assignment", assignment)))
    keep(client.get(url("api-draft", assignment)))
    keep(client.put(url("api-draft", assignment), {"findings": ["edema"]}, content_type="application/json"))
    keep(client.get(url("api-ai", assignment)))  # before the image rendered
    keep(post(client, url("api-events", assignment), {"events": [event("image_rendered", 10)]}))
    keep(client.get(url("api-ai", assignment)))
    keep(client.get(url("api-annotations", assignment)))
    target = annotation(target="output", category="missed_finding", label="edema")
    keep(post(client, url("api-annotations", assignment), target))
    keep(
        client.patch(url("api-annotation", assignment, target["id"]), {"comment": "c"}, content_type="application/json")
    )
    for position in (1, 2):
        keep(client.get(url("api-image", assignment, position)))
    keep(client.get(reverse("api-schema")))
    keep(submit(client, assignment))
    keep(client.get(url("api-assignment", assignment)))
    keep(client.get(reverse("workstation", args=[assignment.public_id])))
    return "\n".join(bodies)


@pytest.fixture
def blinded_study(demo_case_set, reader, client):
    """Session 1: one case per arm. Session 2: the same cases under rotated arms, after session 1's reads,
    which (like another reader's read of the same cases) carry canaries."""
    # Each test opens the arm it is about; the enforced reading order has its own tests (test_reading_order.py).
    study, first = open_study_with_assignments(demo_case_set, reader, canaries=True, washout_days=0, free_order=True)
    client.force_login(reader)
    for assignment in first.values():
        submit(client, assignment, report_findings=f"My own earlier read {OWN_READ_CANARY}.")
    session = ReadingSession.objects.create(study=study, reader=reader, index=2)
    rotated = {
        Arm.UNAIDED: first[Arm.FULL_REASONING].case,
        Arm.LABELS_ONLY: first[Arm.UNAIDED].case,
        Arm.FULL_REASONING: first[Arm.LABELS_ONLY].case,
    }
    second = {
        arm: Assignment.objects.create(study=study, reader=reader, case=case, arm=arm, session=session, position=i + 1)
        for i, (arm, case) in enumerate(rotated.items())
    }
    other = UserFactory(roles=["reader"])
    other_session = ReadingSession.objects.create(study=study, reader=other, index=1)
    for i, (arm, case) in enumerate(rotated.items()):
        theirs = Assignment.objects.create(
            study=study, reader=other, case=case, arm=arm, session=other_session, position=i + 1
        )
        client.force_login(other)
        submit(client, theirs, report_findings=f"Someone else's read {OTHER_READER_CANARY}.")
    client.force_login(reader)
    return client, second


def leaked_runs(text, runs):
    found = " ".join(words(text))
    return [run for run in runs if run in found]


def test_an_unaided_reading_receives_no_ai_content_at_all(blinded_study):
    client, assignments = blinded_study
    text = every_response(client, assignments[Arm.UNAIDED])
    for canary in [REASONING_CANARY, REPORT_CANARY, *NEVER]:
        assert canary not in text
    assert leaked_runs(text, REASONING_RUNS | REPORT_RUNS) == []
    # The case's AI labels (consolidation, effusion, pneumonia) only ever arrive as the vocabulary.
    assert '"ai":"none"' in text.replace(" ", "")


def test_a_labels_only_reading_receives_the_labels_and_nothing_of_the_reasoning_or_report(blinded_study):
    client, assignments = blinded_study
    text = every_response(client, assignments[Arm.LABELS_ONLY])
    for canary in [REASONING_CANARY, REPORT_CANARY, *NEVER]:
        assert canary not in text
    assert leaked_runs(text, REASONING_RUNS | REPORT_RUNS) == []
    assert '{"labels":[{"slug":"consolidation","name":"Consolidation"}' in text.replace(" ", "")


def test_a_full_reasoning_reading_receives_reasoning_and_report_but_never_provenance_or_errors(blinded_study):
    client, assignments = blinded_study
    text = every_response(client, assignments[Arm.FULL_REASONING])
    assert REASONING_CANARY in text and REPORT_CANARY in text
    assert leaked_runs(text, REASONING_RUNS) and leaked_runs(text, REPORT_RUNS)
    for canary in NEVER:
        assert canary not in text


def test_the_canary_check_would_catch_a_leak():
    """The run detector finds eight words of the reasoning even when they are re-spaced and re-cased."""
    sample = CANARY_REASONING.split("\n")[3].upper().replace(" ", "  ")
    assert leaked_runs(sample, REASONING_RUNS)
