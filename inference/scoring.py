"""Scoring predicted label sets against ground truth: the model's outputs now, readers' reads in the analysis.

Rules, per case:
- Truth values are "positive" | "negative" | "uncertain" | "unknown"; a label missing from the truth is unknown.
  Only positive and negative labels are evaluable: the others leave both the true and the predicted set, so
  neither predicting nor omitting them counts for or against anyone.
- No Finding is a label like the others, as in the paper's Jaccard reward.
- Jaccard = |P ∩ T| / |P ∪ T|, and 1 when both sets are empty (nothing to find, nothing claimed).

Rules, over a set of cases:
- Only outputs with status "ok" enter the label metrics. Refused, truncated and failed ones (any other status)
  are counted, and enter one extra number, mean_jaccard_unscored_as_empty, as empty predictions.
- Macro F1 is the mean F1 over estimable labels: those with at least one positive or one prediction among the
  scored cases. Labels with neither have no F1 (0/0); they are listed as not estimable and left out.
- Every ratio whose denominator is zero is None, never an exception and never a made-up 0 or 1.
"""

from dataclasses import dataclass, field

from readerstudy.labels import CHEXPERT_LABELS

POSITIVE, NEGATIVE = "positive", "negative"
EVALUABLE = frozenset({POSITIVE, NEGATIVE})
FALSE_LABEL, MISSED_LABEL = "false_label", "missed_label"
SCORED_STATUS = "ok"
OUTCOMES = ("tp", "fp", "fn", "tn")


@dataclass(frozen=True)
class LabelError:
    label: str
    kind: str  # FALSE_LABEL: predicted but negative | MISSED_LABEL: positive but not predicted


@dataclass
class CaseScore:
    predicted: frozenset  # P: predicted labels that are evaluable in this case
    actual: frozenset  # T: positive labels
    jaccard: float
    exact_match: bool
    true_positives: list[str]
    errors: list[LabelError]  # false labels, then missed labels, each sorted by slug
    outcomes: dict[str, str]  # every evaluable label -> "tp" | "fp" | "fn" | "tn"


def score_case(predicted, truth: dict) -> CaseScore:
    evaluable = {slug for slug, value in truth.items() if value in EVALUABLE}
    actual = frozenset(slug for slug in evaluable if truth[slug] == POSITIVE)
    guessed = frozenset(set(predicted) & evaluable)
    union = actual | guessed
    return CaseScore(
        predicted=guessed,
        actual=actual,
        jaccard=len(actual & guessed) / len(union) if union else 1.0,
        exact_match=guessed == actual,
        true_positives=sorted(actual & guessed),
        errors=[LabelError(slug, FALSE_LABEL) for slug in sorted(guessed - actual)]
        + [LabelError(slug, MISSED_LABEL) for slug in sorted(actual - guessed)],
        outcomes={slug: _outcome(slug in guessed, slug in actual) for slug in sorted(evaluable)},
    )


def _outcome(predicted, positive):
    if predicted:
        return "tp" if positive else "fp"
    return "fn" if positive else "tn"


@dataclass
class LabelMetrics:
    label: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def support(self):
        """Positives among the scored cases."""
        return self.tp + self.fn

    @property
    def estimable(self):
        return self.tp + self.fp + self.fn > 0

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
    per_label: list[LabelMetrics]
    cases: int = 0
    scored: int = 0
    refusals: int = 0
    truncations: int = 0
    failures: int = 0  # any other status that is not "ok": failed, malformed, …
    exact_matches: int = 0
    jaccards: list[float] = field(default_factory=list)  # scored cases
    unscored_jaccards: list[float] = field(default_factory=list)  # the others, as empty predictions

    @property
    def estimable_labels(self):
        return [m.label for m in self.per_label if m.estimable]

    @property
    def not_estimable_labels(self):
        return [m.label for m in self.per_label if not m.estimable]

    @property
    def macro_f1(self):
        return _mean([m.f1 for m in self.per_label if m.estimable])

    @property
    def micro_f1(self):
        tp, fp, fn = (sum(getattr(m, outcome) for m in self.per_label) for outcome in ("tp", "fp", "fn"))
        return _ratio(2 * tp, 2 * tp + fp + fn)

    @property
    def mean_jaccard(self):
        return _mean(self.jaccards)

    @property
    def mean_jaccard_unscored_as_empty(self):
        return _mean(self.jaccards + self.unscored_jaccards)

    @property
    def exact_match_rate(self):
        return _ratio(self.exact_matches, self.scored)


def score_set(items, vocabulary=CHEXPERT_LABELS) -> SetMetrics:
    """items: (predicted labels, truth by slug, status) per case. Labels come in vocabulary order, then any
    other evaluable label in the order first seen, so per-label counts always add up to the Jaccards'."""
    by_slug = {slug: LabelMetrics(slug) for slug, _ in vocabulary}
    metrics = SetMetrics(per_label=[])
    for predicted, truth, status in items:
        metrics.cases += 1
        if status != SCORED_STATUS:
            _count_unscored(metrics, status)
            metrics.unscored_jaccards.append(score_case(set(), truth).jaccard)
            continue
        score = score_case(predicted, truth)
        metrics.scored += 1
        metrics.jaccards.append(score.jaccard)
        metrics.exact_matches += score.exact_match
        for slug, outcome in score.outcomes.items():
            label = by_slug.setdefault(slug, LabelMetrics(slug))
            setattr(label, outcome, getattr(label, outcome) + 1)
    metrics.per_label = list(by_slug.values())
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


def _mean(values):
    return sum(values) / len(values) if values else None


SUMMARY_KEYS = ("cases", "scored", "refusals", "truncations", "failures", "mean_jaccard",
                "mean_jaccard_unscored_as_empty", "macro_f1", "micro_f1", "exact_match_rate")
LABEL_COLUMNS = ("label", "support", *OUTCOMES, "precision", "recall", "specificity", "f1", "estimable")


def _label_row(label: LabelMetrics) -> dict:
    return {column: getattr(label, column) for column in LABEL_COLUMNS}


def metrics_as_dict(metrics: SetMetrics) -> dict:
    """Every number, JSON-ready (None where a ratio has no denominator)."""
    return {
        **{key: getattr(metrics, key) for key in SUMMARY_KEYS},
        "estimable_labels": metrics.estimable_labels,
        "not_estimable_labels": metrics.not_estimable_labels,
        "per_label": [_label_row(label) for label in metrics.per_label],
    }


def metrics_to_rows(metrics: SetMetrics) -> list[dict]:
    """For a CSV: one row per label, then one row per summary number; every row has the same columns."""
    empty = dict.fromkeys((*LABEL_COLUMNS, "metric", "value"), "")
    rows = [{**empty, **_label_row(label)} for label in metrics.per_label]
    rows += [{**empty, "metric": key, "value": getattr(metrics, key)} for key in SUMMARY_KEYS]
    return rows
