"""The simulated study model (readerstudy/reading/simulation_model.py): each effect it can put in, exactly, without a
database."""

import math
from collections import Counter

import pytest

from readerstudy.reading.simulation_model import Effects, Question, Read, StudyModel

TRUTH = {
    "edema": "positive",
    "pneumonia": "positive",
    "fracture": "negative",
    "atelectasis": "negative",
    "no-finding": "negative",
}
NORMAL = {"edema": "negative", "pneumonia": "negative", "fracture": "negative", "no-finding": "positive"}


def read(arm="UNAIDED", session=1, previous_arm=None, abnormal=False, reader="R01", case="c1"):
    return Read(reader=reader, case=case, arm=arm, session=session, previous_arm=previous_arm, abnormal=abnormal)


def still(**fields):
    """No random variation in time: only the fixed effects remain."""
    return Effects(reader_sd=0, case_sd=0, noise_sd=0, **fields)


def test_time_is_the_product_of_its_fixed_effects():
    model = StudyModel(
        still(
            base_active_s=50,
            arm_multipliers={"FULL_REASONING": 0.75},
            abnormal_multipliers={"FULL_REASONING": 0.8},
            carryover={"LABELS_ONLY": 0.9},
            learning=0.95,
        ),
        seed=1,
    )
    assert math.exp(model.log_seconds(read())) == pytest.approx(50)
    assert math.exp(model.log_seconds(read("FULL_REASONING", abnormal=True))) == pytest.approx(50 * 0.75 * 0.8)
    later = read("FULL_REASONING", session=3, previous_arm="LABELS_ONLY")
    assert math.exp(model.log_seconds(later)) == pytest.approx(50 * 0.75 * 0.9 * 0.95**2)
    assert model.active_ms(later) == round(50 * 0.75 * 0.9 * 0.95**2 * 1000)


def test_random_effects_belong_to_readers_cases_and_their_arms_and_do_not_depend_on_order():
    effects = Effects(reader_sd=0.3, case_sd=0.3, reader_arm_sd=0.2, case_arm_sd=0.2, noise_sd=0.1)
    reads = [
        read(arm, reader=r, case=c) for r in ("R01", "R02") for c in ("c1", "c2") for arm in ("UNAIDED", "LABELS_ONLY")
    ]
    forwards = [StudyModel(effects, seed=4).log_seconds(r) for r in reads]
    model = StudyModel(effects, seed=4)
    backwards = [model.log_seconds(r) for r in reversed(reads)][::-1]
    assert forwards == backwards
    assert forwards != [StudyModel(effects, seed=5).log_seconds(r) for r in reads]


def test_reader_by_arm_effects_vary_a_readers_arm_difference():
    model = StudyModel(Effects(reader_sd=0, case_sd=0, noise_sd=0, reader_arm_sd=0.15, arm_multipliers={}), seed=2)
    differences = {
        model.log_seconds(read("FULL_REASONING", reader=r)) - model.log_seconds(read(reader=r))
        for r in ("R01", "R02", "R03")
    }
    assert len(differences) == 3  # without reader × arm they would all be 0


def test_findings_follow_the_truth_without_errors_and_no_finding_on_a_normal_case():
    model = StudyModel(Effects(miss_rate=0, false_rate=0), seed=1)
    assert model.findings(read(), TRUTH) == {"edema", "pneumonia"}
    assert model.findings(read(), NORMAL) == {"no-finding"}


def test_automation_bias_follows_the_ais_errors_and_ai_help_removes_errors_where_it_is_right():
    ai = {"edema", "fracture"}  # missed pneumonia, false fracture
    biased = StudyModel(Effects(miss_rate=0, false_rate=0, automation_bias={"LABELS_ONLY": 1.0}), seed=1)
    assert biased.findings(read("LABELS_ONLY"), TRUTH, ai) == {"edema", "fracture"}
    assert biased.findings(read("UNAIDED"), TRUTH, None) == {"edema", "pneumonia"}
    helped = StudyModel(Effects(miss_rate=1.0, false_rate=0, ai_help={"FULL_REASONING": 1.0}), seed=1)
    # Where the AI is right (edema) nothing is missed; where it is wrong (pneumonia) the reader errs as unaided.
    assert helped.findings(read("FULL_REASONING"), TRUTH, ai) == {"edema"}


def test_ratings_sit_on_their_scale_move_with_an_arm_shift_and_are_uniform_without_one():
    questions = [Question("confidence", 1, 5)]
    plain = StudyModel(Effects(), seed=1)
    counts = Counter(
        plain.ratings(read(reader=f"R{r}", case=f"c{c}"), questions, set(), "abnormality")["confidence"]
        for r in range(40)
        for c in range(50)
    )
    assert set(counts) == {1, 2, 3, 4, 5} and all(0.15 < n / 2000 < 0.25 for n in counts.values())
    shifted = StudyModel(Effects(rating_effects={"confidence": {"FULL_REASONING": 1.0}}), seed=1)
    means = {
        arm: sum(
            shifted.ratings(read(arm, reader=f"R{r}", case=f"c{c}"), questions, set(), "abnormality")["confidence"]
            for r in range(20)
            for c in range(20)
        )
        / 400
        for arm in ("UNAIDED", "FULL_REASONING")
    }
    assert means["FULL_REASONING"] - means["UNAIDED"] > 0.6


def test_the_probability_of_abnormality_follows_the_reads_own_call():
    model = StudyModel(Effects(), seed=1)
    question = [Question("abnormality", 0, 100)]
    called = [
        model.ratings(read(reader=f"R{r}"), question, {"edema"}, "abnormality")["abnormality"] for r in range(200)
    ]
    normal = [
        model.ratings(read(reader=f"R{r}"), question, {"no-finding"}, "abnormality")["abnormality"] for r in range(200)
    ]
    assert all(0 <= value <= 100 for value in called + normal)
    assert sum(called) / 200 > 70 > 30 > sum(normal) / 200


def test_each_ai_error_is_flagged_with_the_arms_rate():
    errors = ["false:fracture", "missed:pneumonia"]
    model = StudyModel(Effects(flag_rate={"LABELS_ONLY": 1.0, "FULL_REASONING": 0.0}), seed=1)
    assert model.flagged(read("LABELS_ONLY"), errors) == errors
    assert model.flagged(read("FULL_REASONING"), errors) == []


def test_without_ai_effects_the_ais_output_changes_nothing_in_a_read():
    model = StudyModel(Effects(miss_rate=0.4, false_rate=0.4), seed=3)
    for reader in ("R01", "R02", "R03", "R04"):
        reads = [
            model.findings(read("LABELS_ONLY", reader=reader), TRUTH, ai)
            for ai in (None, {"edema"}, {"edema", "pneumonia", "fracture"}, set())
        ]
        assert reads[1:] == reads[:-1]
