"""Data migrations on rows made under the previous schema: what existing studies and ground truth become."""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# serialized_rollback: the flush after the test would otherwise wipe the rows seeded by data migrations.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("readerstudy", "0010_study_analysis")]
AFTER = [("readerstudy", "0011_ground_truth_blank")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def test_blank_cells_stored_as_unknown_become_blank_and_existing_studies_keep_blank_as_unknown():
    """Until 0011 the labels file's blank cells were the only writer of "unknown"."""
    old = migrate(BEFORE)
    batch = old.get_model("readerstudy", "ImportBatch").objects.create(source="before")
    case = old.get_model("readerstudy", "Case").objects.create(source_id="a", import_batch=batch)
    labels = {
        label.slug: label
        for label in old.get_model("readerstudy", "Label").objects.filter(
            slug__in=["cardiomegaly", "edema", "fracture"]
        )
    }
    truth = old.get_model("readerstudy", "GroundTruth")
    for slug, value in (("cardiomegaly", "positive"), ("edema", "unknown"), ("fracture", "uncertain")):
        truth.objects.create(case=case, label=labels[slug], value=value)
    case_set = old.get_model("readerstudy", "CaseSet").objects.create(name="before")
    before = old.get_model("readerstudy", "Study").objects.create(
        title="Made before", case_set=case_set, randomisation_seed=1
    )
    old.get_model("readerstudy", "StudyAnalysis").objects.create(
        study=before, requested_version=3, computed_version=3, result={}
    )

    new = migrate(AFTER)
    assert dict(
        new.get_model("readerstudy", "GroundTruth").objects.filter(case_id=case.pk).values_list("label__slug", "value")
    ) == {"cardiomegaly": "positive", "edema": "blank", "fracture": "uncertain"}
    studies = new.get_model("readerstudy", "Study").objects
    assert studies.get(title="Made before").blank_truth == "unknown"
    # Scoring changed: the analysis is out of date, so the sweep recomputes it.
    analysis = new.get_model("readerstudy", "StudyAnalysis").objects.get(study_id=before.pk)
    assert (analysis.requested_version, analysis.computed_version) == (4, 3)
    made_after = studies.create(title="Made after", case_set_id=case_set.pk, randomisation_seed=2)
    assert made_after.blank_truth == "negative"
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_studies_opened_before_the_reading_order_was_enforced_keep_their_free_order():
    """0015 brought the enforced order: a study already open (or closed) was read in free order and its
    protocol is frozen, so it keeps it; a draft takes the enforced default."""
    old = migrate([("readerstudy", "0014_served_images")])
    case_set = old.get_model("readerstudy", "CaseSet").objects.create(name="before")
    studies = old.get_model("readerstudy", "Study").objects
    for seed, status in enumerate(("draft", "open", "closed"), start=1):
        studies.create(title=status, status=status, case_set=case_set, randomisation_seed=seed)

    new = migrate([("readerstudy", "0015_free_order")])
    assert dict(new.get_model("readerstudy", "Study").objects.values_list("title", "free_order")) == {
        "draft": False,
        "open": True,
        "closed": True,
    }
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_every_coordinator_stays_on_every_study_made_before_teams_with_the_addition_audited():
    """0016 brought study teams: before it every coordinator ran every study, so nobody loses one at the
    upgrade; readers and admins are not put on teams (admins run every study anyway)."""
    old = migrate([("readerstudy", "0015_free_order")])
    users = old.get_model("auth", "User").objects
    groups = {group.name: group for group in old.get_model("auth", "Group").objects.all()}
    for name, role in (("carol", "coordinator"), ("alice", "coordinator"), ("rita", "reader"), ("ada", "admin")):
        users.create(username=name).groups.add(groups[role])
    case_set = old.get_model("readerstudy", "CaseSet").objects.create(name="before")
    studies = [
        old.get_model("readerstudy", "Study").objects.create(title=title, case_set=case_set, randomisation_seed=seed)
        for seed, title in enumerate(("first", "second"), start=1)
    ]

    new = migrate([("readerstudy", "0016_study_teams")])
    team = new.get_model("readerstudy", "StudyCoordinator").objects
    audit = new.get_model("readerstudy", "AuditEntry").objects
    for study in studies:
        assert sorted(team.filter(study_id=study.pk).values_list("user__username", flat=True)) == ["alice", "carol"]
        assert sorted(audit.filter(study_id=study.pk).values_list("action", "username", "detail")) == [
            ("team_joined", "alice", "alice joined the team."),
            ("team_joined", "carol", "carol joined the team."),
        ]
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_report_turns_found_by_their_prompt_before_0003_are_marked_on_the_configuration_and_the_output():
    """Until inference 0003 the report turn was the one whose prompt read "Write a structured report"; the
    migration records that as the configuration's report follow-up and as each stored turn's kind."""
    old = migrate([("inference", "0002_default_model_configurations"), ("readerstudy", "0016_study_teams")])
    configurations = old.get_model("inference", "ModelConfiguration").objects
    configurations.create(
        name="no report", engine="simulated", model_id="m", follow_up_prompts=["Provide differentials"]
    )
    configurations.create(
        name="report second",
        engine="simulated",
        model_id="m",
        follow_up_prompts=["Provide differentials", "write a structured report."],
    )
    batch = old.get_model("readerstudy", "ImportBatch").objects.create(source="before")
    case = old.get_model("readerstudy", "Case").objects.create(source_id="a", import_batch=batch)
    image = old.get_model("readerstudy", "CaseImage").objects.create(
        case=case,
        sop_instance_uid="1.2.3",
        sha256="0" * 64,
        stored_path="x.dcm",
        byte_size=1,
        modality="DX",
        rows=1,
        columns=1,
        bits_stored=12,
        photometric_interpretation="MONOCHROME2",
        original_transfer_syntax_uid="1.2.840.10008.1.2.1",
    )
    case_set = old.get_model("readerstudy", "CaseSet").objects.create(name="before")
    run = old.get_model("inference", "InferenceRun").objects.create(
        case_set=case_set, configuration=configurations.get(name="report second")
    )
    job = old.get_model("inference", "InferenceJob").objects.create(
        run=run, case=case, configuration_id=run.configuration_id, status="succeeded"
    )
    turns = [
        {"prompt": prompt, "text": "t"} for prompt in ("Find it.", "Provide differentials", "Write a structured report")
    ]
    output = old.get_model("inference", "ModelOutput").objects.create(
        job=job, case=case, image=image, parse_status="ok", turns=turns, engine="simulated", model_id="m"
    )

    new = migrate([("inference", "0003_report_turn_and_leases")])
    assert dict(new.get_model("inference", "ModelConfiguration").objects.values_list("name", "report_follow_up")) == {
        "NV-Reason-CXR-3B": 1,
        "Simulated NV-Reason-CXR": 1,
        "no report": None,
        "report second": 2,
    }
    stored = new.get_model("inference", "ModelOutput").objects.get(pk=output.pk).turns
    assert [turn["kind"] for turn in stored] == ["findings", "follow_up", "report"]
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_drafts_move_their_findings_and_answers_into_one_document_and_submitted_reads_keep_their_rows():
    """0021: a draft is one document (Read.draft) until the submit writes rows; rows of drafts made before move
    into it, and back on a reverse migration."""
    old = migrate([("readerstudy", "0020_not_applicable")])
    model = old.get_model
    reader = model("auth", "User").objects.create(username="before-reader")
    batch = model("readerstudy", "ImportBatch").objects.create(source="before")
    cases = [model("readerstudy", "Case").objects.create(source_id=name, import_batch=batch) for name in "ab"]
    case_set = model("readerstudy", "CaseSet").objects.create(name="before")
    study = model("readerstudy", "Study").objects.create(title="Drafts", case_set=case_set, randomisation_seed=1)
    questions = {
        key: model("readerstudy", "StudyQuestion").objects.create(
            study=study, key=key, text=key, min_anchor="low", max_anchor="high", order=order, allows_not_applicable=True
        )
        for order, key in enumerate(["confidence", "trust"])
    }
    session = model("readerstudy", "ReadingSession").objects.create(study=study, reader=reader, index=1)
    labels = {label.slug: label for label in model("readerstudy", "Label").objects.filter(vocabulary="chexpert")}
    reads = []
    for position, case in enumerate(cases, start=1):
        assignment = model("readerstudy", "Assignment").objects.create(
            study=study, reader=reader, case=case, arm="UNAIDED", session=session, position=position
        )
        reads.append(model("readerstudy", "Read").objects.create(assignment=assignment))
    draft, submitted = reads
    submitted.submitted_at, submitted.client_submission_uuid = timezone.now(), uuid.uuid4()
    submitted.save()
    for read in reads:
        model("readerstudy", "ReadFinding").objects.create(read=read, label=labels["edema"])
        model("readerstudy", "ReadFinding").objects.create(read=read, label=labels["cardiomegaly"])
        model("readerstudy", "Rating").objects.create(read=read, question=questions["trust"], value=4)
        model("readerstudy", "Rating").objects.create(
            read=read, question=questions["confidence"], value=None, not_applicable=True
        )

    new = migrate([("readerstudy", "0021_read_draft")])
    Read = new.get_model("readerstudy", "Read")
    moved = Read.objects.get(pk=draft.pk)
    assert sorted(moved.draft.pop("findings")) == ["cardiomegaly", "edema"]
    assert moved.draft == {"ratings": {"trust": 4}, "not_applicable": ["confidence"]}
    assert not new.get_model("readerstudy", "ReadFinding").objects.filter(read_id=draft.pk).exists()
    assert not new.get_model("readerstudy", "Rating").objects.filter(read_id=draft.pk).exists()
    kept = Read.objects.get(pk=submitted.pk)
    assert kept.draft == {} and new.get_model("readerstudy", "Rating").objects.filter(read_id=submitted.pk).count() == 2

    back = migrate([("readerstudy", "0020_not_applicable")])
    findings = back.get_model("readerstudy", "ReadFinding").objects.filter(read_id=draft.pk)
    assert sorted(findings.values_list("label__slug", flat=True)) == ["cardiomegaly", "edema"]
    ratings = back.get_model("readerstudy", "Rating").objects.filter(read_id=draft.pk)
    assert sorted(ratings.values_list("question__key", "value", "not_applicable")) == [
        ("confidence", None, True),
        ("trust", 4, False),
    ]
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
