"""Accuracy against ground truth, scored as the model runs are (core/scoring.py): the readers per arm, and the AI.

Only cases with ground truth (at least one positive or negative label) are scored; the others are counted.
Sensitivity is the scoring module's recall.
"""

from inference.run_metrics import score_outputs
from readerstudy.core.scoring import SCORED_STATUS, metrics_as_dict, score_set

from .dataset import CASE_TYPES
from .mixed_model import fit_sensitivity_model, not_estimable, reference_arm

NO_TRUTH = "no case has ground truth"


def readers_accuracy(data):
    scored = data.reads[data.reads["jaccard"].notna()]
    cases_without_truth = int(data.reads.loc[data.reads["jaccard"].isna(), "case"].nunique())
    if scored.empty:
        return {**not_estimable(NO_TRUTH), "cases_without_truth": cases_without_truth}
    return {
        "estimable": True,
        "reason": None,
        "cases_without_truth": cases_without_truth,
        "per_arm": [_arm_accuracy(data, scored, arm, per_label=True) for arm in data.arms],
        "by_case_type": {
            case_type: [_arm_accuracy(data, scored[scored["case_type"] == case_type], arm) for arm in data.arms]
            for case_type in CASE_TYPES
        },
        "model": fit_sensitivity_model(scored, "jaccard", data.arms, reference_arm(data.arms)),
    }


def _arm_accuracy(data, scored, arm, per_label=False):
    rows = scored[scored["arm"] == arm]
    metrics = score_set(
        [
            (findings, data.truths[case_id], SCORED_STATUS)
            for findings, case_id in zip(rows["findings"], rows["case_id"])
        ],
        data.labels,
        blank=data.blank,
    )
    summary = {"arm": arm, "n": metrics.scored, "mean_jaccard": metrics.mean_jaccard, "macro_f1": metrics.macro_f1}
    if per_label:
        summary["per_label"] = _label_rows(metrics, dict(data.labels))
    return summary


def _label_rows(metrics, names):
    return [
        {
            "label": label.label,
            "name": names.get(label.label, label.label),
            "support": label.support,
            "sensitivity": label.recall,
            "specificity": label.specificity,
            "f1": label.f1,
        }
        for label in metrics.per_label
    ]


def ai_accuracy(data):
    """The pinned outputs on the study's cases (the same metrics as a model run's)."""
    if not data.outputs:
        return not_estimable("no AI output is pinned to this study")
    with_truth = {case_id: output for case_id, output in data.outputs.items() if data.has_truth(case_id)}
    if not with_truth:
        return not_estimable(NO_TRUTH)
    metrics = metrics_as_dict(_score_outputs(data, with_truth))
    names = dict(data.labels)
    for row in metrics["per_label"]:
        row["name"] = names.get(row["label"], row["label"])
    by_type = {}
    for case_type in CASE_TYPES:
        outputs = {
            case_id: output for case_id, output in with_truth.items() if data.case_types.get(case_id) == case_type
        }
        typed = _score_outputs(data, outputs)
        by_type[case_type] = {"cases": typed.cases, "mean_jaccard": typed.mean_jaccard, "macro_f1": typed.macro_f1}
    return {
        "estimable": True,
        "reason": None,
        "cases_without_truth": len(data.outputs) - len(with_truth),
        "simulated": any(output.is_simulated for output in with_truth.values()),
        **metrics,
        "by_case_type": by_type,
    }


def _score_outputs(data, outputs):
    return score_outputs(
        [(output, data.truths[case_id]) for case_id, output in outputs.items()], data.labels, blank=data.blank
    )
