"""Scoring label sets against ground truth: exact numbers on hand-computed cases."""

import pytest

from inference.scoring import metrics_as_dict, metrics_to_rows, score_case, score_set

P, N, U, X = "positive", "negative", "uncertain", "unknown"


def test_two_empty_sets_have_jaccard_one():
    score = score_case(set(), {"edema": N, "cardiomegaly": N})
    assert (score.jaccard, score.exact_match, score.errors) == (1.0, True, [])


def test_uncertain_and_unknown_labels_leave_both_sets():
    truth = {"cardiomegaly": P, "edema": U, "atelectasis": X, "pneumothorax": N}
    score = score_case({"cardiomegaly", "edema", "atelectasis"}, truth)
    assert (score.jaccard, score.exact_match) == (1.0, True)
    assert score.outcomes == {"cardiomegaly": "tp", "pneumothorax": "tn"}


def test_no_finding_is_a_label_like_the_others_and_errors_are_named():
    truth = {"no-finding": P, "cardiomegaly": N, "edema": N}
    score = score_case({"cardiomegaly"}, truth)
    assert score.jaccard == 0.0
    assert [(e.label, e.kind) for e in score.errors] == [("cardiomegaly", "false_label"), ("no-finding", "missed_label")]


def test_jaccard_of_partial_overlap():
    truth = {"cardiomegaly": P, "pleural-effusion": P, "edema": N, "atelectasis": N}
    score = score_case({"cardiomegaly", "edema"}, truth)
    assert score.jaccard == pytest.approx(1 / 3)
    assert score.true_positives == ["cardiomegaly"]


def test_set_metrics_per_label_macro_micro_and_counts():
    items = [
        ({"cardiomegaly"}, {"cardiomegaly": P, "edema": N}, "ok"),           # tp, tn
        ({"cardiomegaly", "edema"}, {"cardiomegaly": N, "edema": P}, "ok"),  # fp, tp
        (set(), {"cardiomegaly": P, "edema": N}, "ok"),                      # fn, tn
        (set(), {"cardiomegaly": P}, "refused"),
        (set(), {"cardiomegaly": N}, "truncated"),
    ]
    metrics = score_set(items)
    data = metrics_as_dict(metrics)
    cardio = next(row for row in data["per_label"] if row["label"] == "cardiomegaly")
    edema = next(row for row in data["per_label"] if row["label"] == "edema")
    assert (cardio["tp"], cardio["fp"], cardio["fn"], cardio["tn"]) == (1, 1, 1, 0)
    assert (cardio["precision"], cardio["recall"], cardio["f1"], cardio["specificity"]) == (0.5, 0.5, 0.5, 0.0)
    assert (edema["tp"], edema["fp"], edema["fn"], edema["tn"]) == (1, 0, 0, 2)
    assert (edema["precision"], edema["recall"], edema["f1"], edema["specificity"]) == (1.0, 1.0, 1.0, 1.0)
    assert data["macro_f1"] == pytest.approx(0.75)
    assert data["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert data["mean_jaccard"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert data["mean_jaccard_including_unscored"] == pytest.approx((1.0 + 0.5 + 0.0 + 0.0 + 1.0) / 5)
    assert data["exact_match_rate"] == pytest.approx(1 / 3)
    assert (data["cases"], data["scored"], data["refusals"], data["truncations"], data["failures"]) == (5, 3, 1, 1, 0)
    assert "pneumothorax" in data["not_estimable_labels"] and "edema" not in data["not_estimable_labels"]


def test_nothing_to_score_gives_none_not_an_error():
    data = metrics_as_dict(score_set([]))
    assert (data["macro_f1"], data["micro_f1"], data["mean_jaccard"], data["exact_match_rate"]) == (None,) * 4
    rows = metrics_to_rows(score_set([]))
    assert rows[0]["label"] == "atelectasis" and rows[0]["precision"] is None
    assert {"metric": "mean_jaccard", "value": None}.items() <= rows[-5].items()
