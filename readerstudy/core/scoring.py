"""Scoring predicted label sets against ground truth: the model's outputs and readers' reads, the same way.

Rules, per case:
- Truth values are "positive" | "negative" | "uncertain" | "unknown" | "blank"; a label missing from the truth
  is unknown. "blank" is what a labels file left empty; a study's rule says how it scores (`blank=`):
  "negative" (the default, as CheXpert's own evaluation does) or "unknown". Every scoring call states the rule.
- Only positive and negative labels are evaluable: the others leave both the true and the predicted set, so
  neither predicting nor omitting them counts for or against anyone.
- No Finding is derived, never taken on trust: it is negative when any finding label (Support Devices and No
  Finding aside) is positive, positive when every finding label is negative; otherwise (none positive, some
  uncertain or unknown) the file's own No Finding value stands, after the blank rule. Predictions are taken
  as the reader ticked them or the model wrote them.
- No Finding counts in the Jaccard and has its own per-label outcome, as in the paper's Jaccard reward, but is
  never an error by itself: a false label on a normal case is a false finding of that label, a missed label
  a missed finding of that label.
- Jaccard = |P ∩ T| / |P ∪ T|, and 1 when both sets are empty (nothing to find, nothing claimed).

Rules, over a set of cases:
- Only outputs with status "ok" enter the label metrics. Refused, truncated and failed ones (any other status)
  are counted, and enter one extra number, mean_jaccard_unscored_as_empty, as empty predictions.
- Macro F1 is the mean F1 over estimable labels: those with at least one positive or one prediction among the
  scored cases. Labels with neither have no F1 (0/0); they are listed as not estimable and left out.
- Every ratio whose denominator is zero is None, never an exception and never a made-up 0 or 1.
"""

from dataclasses import dataclass, field

from readerstudy.core.labels import CHEXPERT_LABELS, NO_FINDING, NORMAL_LABEL_SLUGS

POSITIVE, NEGATIVE, UNKNOWN, BLANK = "positive", "negative", "unknown", "blank"
EVALUABLE = frozenset({POSITIVE, NEGATIVE})
BLANK_RULES = (NEGATIVE, UNKNOWN)  # what a blank cell scores as
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
    errors: list[LabelError]  # false labels, then missed labels, each sorted by slug; never No Finding
    outcomes: dict[str, str]  # every evaluable label -> "tp" | "fp" | "fn" | "tn"


def resolve_truth(truth: dict, *, blank) -> dict:
    """The truth as scored: blank cells under the study's rule, No Finding derived from the finding labels."""
    if blank not in BLANK_RULES:
        raise ValueError(f"a blank label scores as one of {BLANK_RULES}, not {blank!r}")
    resolved = {slug: blank if value == BLANK else value for slug, value in truth.items()}
    if NO_FINDING in resolved:
        findings = [value for slug, value in resolved.items() if slug not in NORMAL_LABEL_SLUGS]
        if POSITIVE in findings:
            resolved[NO_FINDING] = NEGATIVE
        elif findings and all(value == NEGATIVE for value in findings):
            resolved[NO_FINDING] = POSITIVE
    return resolved


def has_truth(truth: dict, *, blank) -> bool:
    """A case is scored when at least one label is positive or negative under the blank rule."""
    return any(value in EVALUABLE for value in resolve_truth(truth, blank=blank).values())


def score_case(predicted, truth: dict, *, blank) -> CaseScore:
    truth = resolve_truth(truth, blank=blank)
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
        errors=[LabelError(slug, FALSE_LABEL) for slug in sorted(guessed - actual - {NO_FINDING})]
        + [LabelError(slug, MISSED_LABEL) for slug in sorted(actual - guessed - {NO_FINDING})],
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
    blank_scored_as: str = NEGATIVE  # the blank rule the cases were scored under
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


def score_set(items, vocabulary=CHEXPERT_LABELS, *, blank) -> SetMetrics:
    """items: (predicted labels, truth by slug, status) per case. Labels come in vocabulary order, then any
    other evaluable label in the order first seen, so per-label counts always add up to the Jaccards'."""
    by_slug = {slug: LabelMetrics(slug) for slug, _ in vocabulary}
    metrics = SetMetrics(per_label=[], blank_scored_as=blank)
    for predicted, truth, status in items:
        metrics.cases += 1
        if status != SCORED_STATUS:
            _count_unscored(metrics, status)
            metrics.unscored_jaccards.append(score_case(set(), truth, blank=blank).jaccard)
            continue
        score = score_case(predicted, truth, blank=blank)
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


SUMMARY_KEYS = (
    "blank_scored_as",
    "cases",
    "scored",
    "refusals",
    "truncations",
    "failures",
    "mean_jaccard",
    "mean_jaccard_unscored_as_empty",
    "macro_f1",
    "micro_f1",
    "exact_match_rate",
)
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
