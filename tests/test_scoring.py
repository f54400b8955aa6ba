"""Scoring label sets against ground truth: exact numbers on hand-computed cases.

DB-free: run with `pytest -p no:django --noconftest tests/test_scoring.py` or with the Django plugin.
"""

import csv
import io
import json

import pytest

from inference.scoring import LabelError, metrics_as_dict, metrics_to_rows, score_case, score_set
from readerstudy.labels import CHEXPERT_LABELS

P, N, U, X = "positive", "negative", "uncertain", "unknown"


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


def test_no_finding_is_a_label_like_the_others():
    truth = {"no-finding": P, "cardiomegaly": N, "edema": N}
    assert score_case({"no-finding"}, truth).jaccard == 1.0
    missed = score_case({"cardiomegaly"}, truth)
    assert (missed.jaccard, missed.exact_match) == (0.0, False)
    assert missed.errors == [LabelError("cardiomegaly", "false_label"), LabelError("no-finding", "missed_label")]


def test_partial_overlap_names_each_error():
    truth = {"cardiomegaly": P, "pleural-effusion": P, "edema": N, "atelectasis": N}
    score = score_case(["cardiomegaly", "edema", "cardiomegaly"], truth)
    assert score.jaccard == pytest.approx(1 / 3)  # {cardiomegaly} / {cardiomegaly, pleural-effusion, edema}
    assert score.true_positives == ["cardiomegaly"]
    assert [(e.label, e.kind) for e in score.errors] == [("edema", "false_label"), ("pleural-effusion", "missed_label")]
    assert score.outcomes == {"atelectasis": "tn", "cardiomegaly": "tp", "edema": "fp", "pleural-effusion": "fn"}


ITEMS = [
    ({"cardiomegaly"}, {"cardiomegaly": P, "edema": N}, "ok"),                        # A: tp, tn; J 1, exact
    ({"cardiomegaly", "edema"}, {"cardiomegaly": N, "edema": P}, "ok"),               # B: fp, tp; J 1/2
    (set(), {"cardiomegaly": P, "edema": N, "no-finding": U}, "ok"),                  # C: fn, tn; J 0
    ({"no-finding"}, {"no-finding": P, "cardiomegaly": N}, "ok"),                     # D: tp, tn; J 1, exact
    ({"cardiomegaly"}, {"cardiomegaly": P}, "refused"),                               # E: as empty, J 0
    (set(), {"cardiomegaly": N}, "truncated"),                                        # F: as empty, J 1
    (set(), {"edema": P}, "failed"),                                                  # G: as empty, J 0
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
    # No Finding was never negative in a scored case: its specificity has no denominator.
    assert [no_finding[k] for k in ("precision", "recall", "specificity", "f1")] == [1.0, 1.0, None, 1.0]


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
    assert data["not_estimable_labels"] == [slug for slug, _ in CHEXPERT_LABELS
                                            if slug not in ("cardiomegaly", "edema", "no-finding")]
    assert per_label(data, "pneumothorax")["f1"] is None and per_label(data, "pneumothorax")["estimable"] is False


def test_division_by_zero_gives_none_never_an_exception():
    empty = metrics_as_dict(score_set([]))
    assert [empty[k] for k in ("macro_f1", "micro_f1", "mean_jaccard", "mean_jaccard_unscored_as_empty",
                               "exact_match_rate")] == [None] * 5
    assert per_label(empty, "edema") == {"label": "edema", "support": 0, "tp": 0, "fp": 0, "fn": 0, "tn": 0,
                                         "precision": None, "recall": None, "specificity": None, "f1": None,
                                         "estimable": False}
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
    assert len(rows) == len(CHEXPERT_LABELS) + 10
    assert len({tuple(row) for row in rows}) == 1  # one set of columns for the CSV header
    assert {"label": "cardiomegaly", "f1": 0.5, "metric": ""}.items() <= rows[1].items()
    assert {"label": "", "metric": "exact_match_rate", "value": 0.5}.items() <= rows[-1].items()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert per_label({"per_label": parsed}, "no-finding")["specificity"] == ""  # None is an empty cell
