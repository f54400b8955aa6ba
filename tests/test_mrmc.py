"""MRMC on a study's reads (readerstudy/analysis/mrmc.py): hand-made data with known answers, without a database.

What it adds to orh.py: which reads form each endpoint's table, who is left out, the declared primary
comparison, the Holm adjustment of every other comparison, and how a free-form study is refused.
"""

import math

import numpy as np
import pandas as pd
import pytest

from readerstudy.analysis.dataset import StudyData
from readerstudy.analysis.mrmc import mrmc_section
from readerstudy.models import Study, StudyQuestion

ARMS = ["UNAIDED", "LABELS_ONLY", "FULL_REASONING"]
TRUE_LOG_RATIOS = {"UNAIDED": 0.0, "LABELS_ONLY": math.log(0.85), "FULL_REASONING": math.log(0.7)}


def reads(readers=6, cases=12, seed=3, arms=ARMS):
    """Every reader reads every case in every arm; the first half of the cases are abnormal."""
    rng = np.random.default_rng(seed)
    reader_effect, case_effect = rng.normal(0, 0.2, readers), rng.normal(0, 0.3, cases)
    rows = []
    for r in range(readers):
        for c in range(cases):
            abnormal = c < cases // 2
            for arm in arms:
                log_s = math.log(60) + reader_effect[r] + case_effect[c] + TRUE_LOG_RATIOS[arm] + rng.normal(0, 0.1)
                findings = frozenset({"edema"} if (abnormal != (rng.random() < 0.1)) else {"no-finding"})
                rows.append(
                    {
                        "read": len(rows),
                        "reader": f"R{r + 1:02d}",
                        "case": f"c{c:02d}",
                        "case_id": c,
                        "case_type": "abnormal" if abnormal else "normal",
                        "arm": arm,
                        "log_active_s": log_s,
                        "findings": findings,
                        "jaccard": 1.0 if ("edema" in findings) == abnormal else 0.0,
                        "rating_confidence": float(rng.integers(1, 6)),
                    }
                )
    return pd.DataFrame(rows)


def study_data(frame, arms=ARMS, **study_fields):
    study = Study(title="Hand-made", arms=arms, **study_fields)
    confidence = StudyQuestion(key="confidence", text="How confident are you?", arms=arms)
    truths = {
        case_id: {"edema": "positive" if case_type == "abnormal" else "negative", "no-finding": "blank"}
        for case_id, case_type in zip(frame["case_id"], frame["case_type"])
    }
    return StudyData(
        study=study,
        arms=arms,
        reads=frame,
        questions=[confidence],
        labels=[("edema", "Edema"), ("no-finding", "No Finding")],
        truths=truths,
        outputs={},
        annotations={},
        submitted=len(frame),
        excluded={},
        blank="negative",
    )


def endpoint(section, kind, key=None):
    return next(e for e in section["endpoints"] if e["kind"] == kind and e["key"] == (key or kind))


def holm(p_values):
    """Holm's step-down adjustment, written out: the i-th smallest of m times (m − i + 1), kept monotone."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@pytest.fixture(scope="module")
def section():
    return mrmc_section(study_data(reads()))


def test_every_endpoint_is_analysed_with_pairs_read_later_arm_against_earlier(section):
    assert [(e["kind"], e["key"]) for e in section["endpoints"]] == [
        ("time", "time"),
        ("rating", "confidence"),
        ("jaccard", "jaccard"),
        ("sensitivity", "sensitivity"),
        ("specificity", "specificity"),
    ]
    time = endpoint(section, "time")
    assert [(p["arm"], p["versus"]) for p in time["pairs"]] == [
        ("LABELS_ONLY", "UNAIDED"),
        ("FULL_REASONING", "UNAIDED"),
        ("FULL_REASONING", "LABELS_ONLY"),
    ]
    full = time["pairs"][1]
    assert full["ratio"] == pytest.approx(math.exp(full["estimate"]))
    assert full["ratio_ci_low"] < 0.7 < full["ratio_ci_high"]
    assert (time["readers"], time["cases"], time["readers_left_out"]) == (6, 12, [])
    # Sensitivity is read on the six abnormal cases only, specificity on the six normal ones.
    assert (endpoint(section, "sensitivity")["cases"], endpoint(section, "specificity")["cases"]) == (6, 6)


def test_the_declared_primary_comparison_stands_alone_and_every_other_pair_is_holm_adjusted(section):
    assert section["primary"] == {
        "endpoint": "time",
        "arm": "FULL_REASONING",
        "versus": "UNAIDED",
        "endpoint_name": "Reading time",
        "found": True,
        "reason": None,
    }
    primary = [(e["key"], p["arm"], p["versus"]) for e in section["endpoints"] for p in e["pairs"] if p["primary"]]
    assert primary == [("time", "FULL_REASONING", "UNAIDED")]
    assert [e["role"] for e in section["endpoints"]] == ["primary"] + ["secondary"] * 4
    family = [p for e in section["endpoints"] for p in e["pairs"] if not p["primary"]]
    assert len(family) == 5 * 3 - 1
    assert [p["p_adjusted"] for p in family] == pytest.approx(holm([p["p"] for p in family]))
    assert endpoint(section, "time")["pairs"][1]["p_adjusted"] is None
    assert section["adjustment"] == "Holm" and "no differential carry-over" in section["assumption"]


def test_another_declared_comparison_is_read_as_declared():
    section = mrmc_section(
        study_data(reads(), primary_endpoint="jaccard", primary_arm="UNAIDED", primary_versus="LABELS_ONLY")
    )
    jaccard = endpoint(section, "jaccard")
    assert [(p["arm"], p["versus"], p["primary"]) for p in jaccard["pairs"]] == [
        ("UNAIDED", "LABELS_ONLY", True),
        ("FULL_REASONING", "UNAIDED", False),
        ("FULL_REASONING", "LABELS_ONLY", False),
    ]
    assert endpoint(section, "time")["role"] == "secondary" and jaccard["role"] == "primary"


def test_a_primary_comparison_between_arms_the_study_does_not_run_is_reported_missing():
    arms = ["UNAIDED", "LABELS_ONLY"]
    frame = reads(arms=arms)
    section = mrmc_section(study_data(frame, arms=arms))
    assert (section["primary"]["found"], section["primary"]["reason"]) == (
        False,
        "the declared comparison is not among the estimable ones",
    )
    assert all(p["p_adjusted"] is not None for e in section["endpoints"] for p in e["pairs"])


def test_a_reader_without_reads_in_an_arm_is_left_out_and_named():
    frame = reads()
    frame = frame[~((frame["reader"] == "R03") & (frame["arm"] == "LABELS_ONLY"))]
    time = endpoint(mrmc_section(study_data(frame)), "time")
    assert (time["readers"], time["readers_left_out"]) == (5, ["R03"])
    assert "R03" not in time["reader_foms"]["UNAIDED"]


def test_a_missing_read_leaves_its_case_out_of_that_cell_only():
    frame = reads()
    frame = frame[~((frame["reader"] == "R01") & (frame["case"] == "c00") & (frame["arm"] == "UNAIDED"))]
    time = endpoint(mrmc_section(study_data(frame)), "time")
    kept = frame[(frame["reader"] == "R01") & (frame["arm"] == "UNAIDED")]
    assert time["readers"] == 6 and time["cases"] == 12
    assert time["reader_foms"]["UNAIDED"]["R01"] == pytest.approx(kept["log_active_s"].mean())


def test_the_arm_by_case_type_test_and_the_subgroups():
    section = mrmc_section(study_data(reads()))
    assert [(e["key"], e["role"]) for e in section["interaction"]] == [
        ("time", "interaction"),
        ("jaccard", "interaction"),
    ]
    frame = reads()
    time = section["interaction"][0]
    reader_one = frame[(frame["reader"] == "R01") & (frame["arm"] == "UNAIDED")]
    by_type = reader_one.groupby("case_type")["log_active_s"].mean()
    assert time["reader_foms"]["UNAIDED"]["R01"] == pytest.approx(by_type["abnormal"] - by_type["normal"])
    assert {case_type: [e["cases"] for e in parts] for case_type, parts in section["subgroups"].items()} == {
        "normal": [6, 6],
        "abnormal": [6, 6],
    }
    assert {e["role"] for parts in section["subgroups"].values() for e in parts} == {"exploratory"}
    edema = next(row for row in section["per_label"] if row["label"] == "edema")
    assert (edema["sensitivity"]["cases"], edema["specificity"]["cases"]) == (6, 6)
    no_finding = next(row for row in section["per_label"] if row["label"] == "no-finding")
    # No Finding is derived: positive on the six normal cases, negative on the six abnormal ones.
    assert (no_finding["sensitivity"]["cases"], no_finding["specificity"]["cases"]) == (6, 6)


def test_a_free_form_study_is_not_estimable():
    assert mrmc_section(study_data(reads(), is_free_form=True)) == {
        "estimable": False,
        "reason": "a free-form study is not a crossover design: its readers and cases are not "
        "crossed with its arms, which MRMC analysis needs",
    }


def test_one_reader_is_not_estimable_and_says_why():
    section = mrmc_section(study_data(reads(readers=1)))
    time = endpoint(section, "time")
    assert (time["estimable"], time["reason"]) == (False, "needs at least 2 readers with reads in every arm (has 1)")
    assert section["primary"]["found"] is False
