"""Scoring label sets against ground truth: exact numbers on hand-computed cases.

DB-free: run with `pytest -p no:django --noconftest tests/test_scoring.py` or with the Django plugin.
"""

import csv
import io
import json
from functools import partial

import pytest

from readerstudy.core import scoring
from readerstudy.core.labels import CHEXPERT_LABELS
from readerstudy.core.scoring import LabelError, has_truth, metrics_as_dict, metrics_to_rows, resolve_truth

P, N, U, X, B = "positive", "negative", "uncertain", "unknown", "blank"
# The default rule (blank scores as negative) unless a test says otherwise.
score_case = partial(scoring.score_case, blank=N)
score_set = partial(scoring.score_set, blank=N)


def test_two_empty_sets_have_jaccard_one():
    score = score_case(set(), {"edema": N, "cardiomegaly": N})
    assert (score.jaccard, score.exact_match, score.errors, score.true_positives) == (1.0, True, [], [])
    assert score.outcomes == {"cardiomegaly": "tn", "edema": "tn"}


def test_a_case_with_nothing_evaluable_has_jaccard_one_whatever_was_predicted():
    score = score_case({"edema", "pneumonia"}, {"edema": U, "pneumonia": X})
    assert (score.jaccard, score.exact_match, score.outcomes, score.predicted) == (1.0, True, {}, frozenset())


def test_uncertain_and_unknown_labels_leave_both_sets():
    truth = {"cardiomegaly": P, "edema": U, "atelectasis": X, "pneumothorax": N, "pleural-effusion": U}
    # edema (uncertain) and atelectasis (unknown) predicted, pleural-effusion (uncertain) not predicted, and
    # fracture is not in the truth at all: none of them counts.
    score = score_case(["cardiomegaly", "edema", "atelectasis", "fracture"], truth)
    assert (score.predicted, score.actual) == ({"cardiomegaly"}, {"cardiomegaly"})
    assert (score.jaccard, score.exact_match, score.errors) == (1.0, True, [])
    assert score.outcomes == {"cardiomegaly": "tp", "pneumothorax": "tn"}


def test_no_finding_counts_in_the_jaccard_but_is_never_an_error_by_itself():
    truth = {"no-finding": P, "cardiomegaly": N, "edema": N}
    assert score_case({"no-finding"}, truth).jaccard == 1.0
    false_finding = score_case({"cardiomegaly"}, truth)
    assert (false_finding.jaccard, false_finding.exact_match) == (0.0, False)
    assert false_finding.errors == [LabelError("cardiomegaly", "false_label")]
    assert false_finding.outcomes == {"cardiomegaly": "fp", "edema": "tn", "no-finding": "fn"}
    # No Finding ticked on an abnormal case: the error is the finding it missed.
    missed = score_case({"no-finding"}, {"no-finding": N, "cardiomegaly": P, "edema": N})
    assert (missed.jaccard, missed.errors) == (0.0, [LabelError("cardiomegaly", "missed_label")])


CHEXPERT_ROW = {slug: B for slug, _ in CHEXPERT_LABELS}


def test_a_file_with_only_cardiomegaly_scores_blanks_as_negative_by_default():
    truth = {**CHEXPERT_ROW, "cardiomegaly": P}
    score = score_case({"cardiomegaly", "pneumothorax"}, truth)
    assert score.jaccard == 0.5
    assert score.errors == [LabelError("pneumothorax", "false_label")]
    assert score.outcomes["pneumothorax"] == "fp" and score.outcomes["no-finding"] == "tn"
    assert len(score.outcomes) == len(CHEXPERT_LABELS)  # every label has a denominator for specificity
    metrics = score_set([({"cardiomegaly", "pneumothorax"}, truth, "ok")])
    pneumothorax = next(m for m in metrics.per_label if m.label == "pneumothorax")
    assert (pneumothorax.fp, pneumothorax.tn, pneumothorax.specificity) == (1, 0, 0.0)


def test_with_blank_as_unknown_the_blank_labels_are_left_out():
    truth = {**CHEXPERT_ROW, "cardiomegaly": P}
    score = scoring.score_case({"cardiomegaly", "pneumothorax"}, truth, blank=X)
    assert (score.jaccard, score.errors) == (1.0, [])
    # Cardiomegaly, and No Finding derived negative from it: nothing else is evaluable.
    assert score.outcomes == {"cardiomegaly": "tp", "no-finding": "tn"}


def test_no_finding_is_derived_from_the_finding_labels():
    negative = resolve_truth({**CHEXPERT_ROW, "no-finding": P, "pneumonia": P}, blank=N)
    assert negative["no-finding"] == N  # a positive finding overrides the file's No Finding
    devices_only = resolve_truth({**CHEXPERT_ROW, "support-devices": P}, blank=N)
    assert devices_only["no-finding"] == P  # a line alone is a normal study
    assert resolve_truth({**CHEXPERT_ROW, "support-devices": P}, blank=X)["no-finding"] == X
    # Nothing positive but something not known: the file's own No Finding value stands.
    explicit = {**CHEXPERT_ROW, "no-finding": P, "edema": U}
    assert resolve_truth(explicit, blank=N)["no-finding"] == P
    assert resolve_truth(explicit, blank=X)["no-finding"] == P
    assert resolve_truth({"edema": N, "no-finding": U}, blank=N)["no-finding"] == P
    assert resolve_truth({"edema": U, "no-finding": B}, blank=N)["no-finding"] == N
    # Without a No Finding label (another vocabulary) nothing is added.
    assert resolve_truth({"nodule": P, "mass": B}, blank=N) == {"nodule": P, "mass": N}
    with pytest.raises(ValueError, match="a blank label scores as one of \\('negative', 'unknown'\\), not 'positive'"):
        resolve_truth({"edema": B}, blank=P)


def test_a_case_has_truth_when_a_label_is_positive_or_negative_under_the_rule():
    assert has_truth(CHEXPERT_ROW, blank=N) is True
    assert has_truth(CHEXPERT_ROW, blank=X) is False
    assert has_truth({"edema": U, "fracture": X}, blank=N) is False


def test_partial_overlap_names_each_error():
    truth = {"cardiomegaly": P, "pleural-effusion": P, "edema": N, "atelectasis": N}
    score = score_case(["cardiomegaly", "edema", "cardiomegaly"], truth)
    assert score.jaccard == pytest.approx(1 / 3)  # {cardiomegaly} / {cardiomegaly, pleural-effusion, edema}
    assert score.true_positives == ["cardiomegaly"]
    assert [(e.label, e.kind) for e in score.errors] == [("edema", "false_label"), ("pleural-effusion", "missed_label")]
    assert score.outcomes == {"atelectasis": "tn", "cardiomegaly": "tp", "edema": "fp", "pleural-effusion": "fn"}


ITEMS = [
    ({"cardiomegaly"}, {"cardiomegaly": P, "edema": N}, "ok"),  # A: tp, tn; J 1, exact
    ({"cardiomegaly", "edema"}, {"cardiomegaly": N, "edema": P}, "ok"),  # B: fp, tp; J 1/2
    (set(), {"cardiomegaly": P, "edema": N, "no-finding": U}, "ok"),  # C: fn, tn, NF tn; J 0
    ({"no-finding"}, {"no-finding": P, "cardiomegaly": N}, "ok"),  # D: tp, tn; J 1, exact
    ({"cardiomegaly"}, {"cardiomegaly": P}, "refused"),  # E: as empty, J 0
    (set(), {"cardiomegaly": N}, "truncated"),  # F: as empty, J 1
    (set(), {"edema": P}, "failed"),  # G: as empty, J 0
]


def per_label(data, slug):
    return next(row for row in data["per_label"] if row["label"] == slug)


def test_per_label_counts_precision_recall_specificity_and_f1():
    data = metrics_as_dict(score_set(ITEMS))
    cardiomegaly, edema, no_finding = (per_label(data, s) for s in ("cardiomegaly", "edema", "no-finding"))
    assert [cardiomegaly[k] for k in ("tp", "fp", "fn", "tn", "support")] == [1, 1, 1, 1, 2]
    assert [cardiomegaly[k] for k in ("precision", "recall", "specificity", "f1")] == [0.5, 0.5, 0.5, 0.5]
    assert [edema[k] for k in ("tp", "fp", "fn", "tn", "support")] == [1, 0, 0, 2, 1]
    assert [edema[k] for k in ("precision", "recall", "specificity", "f1")] == [1.0, 1.0, 1.0, 1.0]
    # No Finding is derived: negative in C (cardiomegaly is positive), whatever the file's "uncertain" said.
    assert [no_finding[k] for k in ("tp", "fp", "fn", "tn")] == [1, 0, 0, 1]
    assert [no_finding[k] for k in ("precision", "recall", "specificity", "f1")] == [1.0, 1.0, 1.0, 1.0]


def test_summary_numbers_and_unscored_outputs():
    data = metrics_as_dict(score_set(ITEMS))
    assert [data[k] for k in ("cases", "scored", "refusals", "truncations", "failures")] == [7, 4, 1, 1, 1]
    assert data["macro_f1"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    assert data["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert data["mean_jaccard"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert data["mean_jaccard_unscored_as_empty"] == pytest.approx((1 + 0.5 + 0 + 1 + 0 + 1 + 0) / 7)
    assert data["exact_match_rate"] == 0.5


def test_labels_with_no_positive_and_no_prediction_are_not_estimable_and_left_out_of_macro_f1():
    data = metrics_as_dict(score_set(ITEMS))
    assert data["estimable_labels"] == ["cardiomegaly", "edema", "no-finding"]
    assert data["not_estimable_labels"] == [
        slug for slug, _ in CHEXPERT_LABELS if slug not in ("cardiomegaly", "edema", "no-finding")
    ]
    assert per_label(data, "pneumothorax")["f1"] is None and per_label(data, "pneumothorax")["estimable"] is False


def test_division_by_zero_gives_none_never_an_exception():
    empty = metrics_as_dict(score_set([]))
    assert [
        empty[k] for k in ("macro_f1", "micro_f1", "mean_jaccard", "mean_jaccard_unscored_as_empty", "exact_match_rate")
    ] == [None] * 5
    assert per_label(empty, "edema") == {
        "label": "edema",
        "support": 0,
        "tp": 0,
        "fp": 0,
        "fn": 0,
        "tn": 0,
        "precision": None,
        "recall": None,
        "specificity": None,
        "f1": None,
        "estimable": False,
    }
    only_negatives = metrics_as_dict(score_set([(set(), {"edema": N}, "ok")]))
    assert (only_negatives["macro_f1"], only_negatives["micro_f1"]) == (None, None)
    assert (only_negatives["mean_jaccard"], only_negatives["exact_match_rate"]) == (1.0, 1.0)
    only_refusals = metrics_as_dict(score_set([(set(), {"edema": P}, "refused")]))
    assert (only_refusals["mean_jaccard"], only_refusals["mean_jaccard_unscored_as_empty"]) == (None, 0.0)


def test_labels_outside_the_vocabulary_are_scored_after_it():
    metrics = score_set([({"nodule"}, {"nodule": P, "edema": N}, "ok")])
    assert [m.label for m in metrics.per_label][-1] == "nodule" and metrics.micro_f1 == 1.0


def test_json_and_csv_exports():
    metrics = score_set(ITEMS)
    assert json.loads(json.dumps(metrics_as_dict(metrics)))["micro_f1"] == pytest.approx(0.75)
    rows = metrics_to_rows(metrics)
    assert len(rows) == len(CHEXPERT_LABELS) + 11
    assert len({tuple(row) for row in rows}) == 1  # one set of columns for the CSV header
    assert {"label": "cardiomegaly", "f1": 0.5, "metric": ""}.items() <= rows[1].items()
    assert {"label": "", "metric": "exact_match_rate", "value": 0.5}.items() <= rows[-1].items()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {"metric": "blank_scored_as", "value": "negative"}.items() <= rows[len(CHEXPERT_LABELS)].items()
    assert per_label({"per_label": parsed}, "pneumothorax")["specificity"] == ""  # None is an empty cell
