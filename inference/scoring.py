"""Scoring a predicted label set against a case's ground truth: the model now, readers in the analysis.

No Finding is a label like the others (as in the paper's Jaccard reward). Labels whose truth is uncertain or
unknown are left out of both sets for that case. The Jaccard index of two empty sets is 1.
"""

from dataclasses import dataclass, field

from readerstudy.labels import CHEXPERT_LABELS

EVALUABLE = {"positive", "negative"}


@dataclass
class LabelError:
    label: str
    kind: str  # "false_label" (predicted, truth negative) | "missed_label" (truth positive, not predicted)


@dataclass
class CaseScore:
    jaccard: float
    exact_match: bool
    true_positives: list
    errors: list
    outcomes: dict  # label slug -> "tp" | "fp" | "fn" | "tn", for evaluable labels only


def score_case(predicted, truth) -> CaseScore:
    evaluable = {slug for slug, value in truth.items() if value in EVALUABLE}
    actual = {slug for slug in evaluable if truth[slug] == "positive"}
    guessed = set(predicted) & evaluable
    union = actual | guessed
    outcomes = {slug: _outcome(slug in guessed, slug in actual) for slug in sorted(evaluable)}
    errors = [LabelError(slug, "false_label") for slug in sorted(guessed - actual)]
    errors += [LabelError(slug, "missed_label") for slug in sorted(actual - guessed)]
    return CaseScore(
        jaccard=len(actual & guessed) / len(union) if union else 1.0,
        exact_match=actual == guessed,
        true_positives=sorted(actual & guessed),
        errors=errors,
        outcomes=outcomes,
    )


def _outcome(predicted, positive):
    return {(True, True): "tp", (True, False): "fp", (False, True): "fn", (False, False): "tn"}[(predicted, positive)]


@dataclass
class LabelMetrics:
    label: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def support(self):
        return self.tp + self.fn

    @property
    def precision(self):
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self):
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def specificity(self):
        return _ratio(self.tn, self.tn + self.fp)

    @property
    def f1(self):
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)


@dataclass
class SetMetrics:
    per_label: list
    cases: int = 0
    scored: int = 0
    refusals: int = 0
    truncations: int = 0
    failures: int = 0
    jaccards: list = field(default_factory=list)
    exact_matches: int = 0
    # Jaccard of refused, truncated and failed outputs taken as empty predictions.
    unscored_jaccards: list = field(default_factory=list)

    @property
    def estimable_labels(self):
        """Labels with a positive or a prediction: the rest have no F1 to average."""
        return [m for m in self.per_label if m.tp + m.fp + m.fn > 0]

    @property
    def macro_f1(self):
        values = [m.f1 for m in self.estimable_labels]
        return sum(values) / len(values) if values else None

    @property
    def micro_f1(self):
        tp, fp, fn = (sum(getattr(m, k) for m in self.per_label) for k in ("tp", "fp", "fn"))
        return _ratio(2 * tp, 2 * tp + fp + fn)

    @property
    def mean_jaccard(self):
        return sum(self.jaccards) / len(self.jaccards) if self.jaccards else None

    @property
    def mean_jaccard_all(self):
        """Refused, truncated and failed outputs counted as empty predictions (their Jaccard vs the truth)."""
        values = self.jaccards + self.unscored_jaccards
        return sum(values) / len(values) if values else None

    @property
    def exact_match_rate(self):
        return _ratio(self.exact_matches, self.scored)


def score_set(items, vocabulary=CHEXPERT_LABELS) -> SetMetrics:
    """items: (predicted slugs, truth by slug, status). Only "ok" outputs enter the label metrics; the
    others are counted (refused, truncated, failed) and enter mean_jaccard_all as empty predictions."""
    metrics = SetMetrics(per_label=[LabelMetrics(slug) for slug, _ in vocabulary])
    by_slug = {m.label: m for m in metrics.per_label}
    for predicted, truth, status in items:
        metrics.cases += 1
        if status != "ok":
            _count_unscored(metrics, status)
            metrics.unscored_jaccards.append(score_case(set(), truth).jaccard)
            continue
        score = score_case(predicted, truth)
        metrics.scored += 1
        metrics.jaccards.append(score.jaccard)
        metrics.exact_matches += score.exact_match
        for slug, outcome in score.outcomes.items():
            if slug in by_slug:
                setattr(by_slug[slug], outcome, getattr(by_slug[slug], outcome) + 1)
    return metrics


def _count_unscored(metrics, status):
    if status == "refused":
        metrics.refusals += 1
    elif status == "truncated":
        metrics.truncations += 1
    else:
        metrics.failures += 1


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else None


def metrics_as_dict(metrics: SetMetrics) -> dict:
    return {
        "cases": metrics.cases,
        "scored": metrics.scored,
        "refusals": metrics.refusals,
        "truncations": metrics.truncations,
        "failures": metrics.failures,
        "mean_jaccard": metrics.mean_jaccard,
        "mean_jaccard_including_unscored": metrics.mean_jaccard_all,
        "macro_f1": metrics.macro_f1,
        "micro_f1": metrics.micro_f1,
        "exact_match_rate": metrics.exact_match_rate,
        "not_estimable_labels": [m.label for m in metrics.per_label if m not in metrics.estimable_labels],
        "per_label": [
            {"label": m.label, "support": m.support, "tp": m.tp, "fp": m.fp, "fn": m.fn, "tn": m.tn,
             "precision": m.precision, "recall": m.recall, "specificity": m.specificity, "f1": m.f1}
            for m in metrics.per_label
        ],
    }


def metrics_to_rows(metrics: SetMetrics) -> list[dict]:
    """One row per label, then one per summary number, for a CSV."""
    data = metrics_as_dict(metrics)
    columns = ["label", "support", "tp", "fp", "fn", "tn", "precision", "recall", "specificity", "f1"]
    rows = [{**{c: row[c] for c in columns}, "metric": "", "value": ""} for row in data["per_label"]]
    for key in ("cases", "scored", "refusals", "truncations", "failures", "mean_jaccard",
                "mean_jaccard_including_unscored", "macro_f1", "micro_f1", "exact_match_rate"):
        rows.append({**{c: "" for c in columns}, "metric": key, "value": data[key]})
    return rows
