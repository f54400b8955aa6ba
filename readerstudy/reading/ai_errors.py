"""The AI's errors on a case: what readers in the AI arms may catch, and what the error audit scores.

Its false and missed labels against ground truth (the scoring module's, under the study's blank rule: No
Finding is never an error by itself), and, for simulated outputs, the deliberate errors the engine recorded.
A wrong side is stated only in the reasoning text, so it is an error a reader can see in FULL_REASONING, not
in LABELS_ONLY. An error is named by its label and the annotation
category that reports it.
"""

from dataclasses import dataclass

from readerstudy.core.scoring import FALSE_LABEL, MISSED_LABEL, score_case
from readerstudy.models import LABELLED_CATEGORIES, Arm, ErrorCategory

LABEL_ERROR_CATEGORY = {
    FALSE_LABEL: ErrorCategory.FALSE_FINDING.value,
    MISSED_LABEL: ErrorCategory.MISSED_FINDING.value,
}
DELIBERATE_ERROR_CATEGORY = {
    "false_finding": ErrorCategory.FALSE_FINDING.value,
    "missed_finding": ErrorCategory.MISSED_FINDING.value,
    "wrong_side": ErrorCategory.WRONG_LOCATION.value,
}
AUDITED_CATEGORIES = [category.value for category in LABELLED_CATEGORIES]
VISIBLE_CATEGORIES = {
    Arm.LABELS_ONLY.value: set(LABEL_ERROR_CATEGORY.values()),
    Arm.FULL_REASONING.value: set(AUDITED_CATEGORIES),
}


@dataclass(frozen=True)
class AIError:
    label: str
    category: str


def ai_errors(output, truth, arm, *, blank):
    """The errors of `output` on a case with `truth` that a reader in `arm` is shown."""
    errors = {
        AIError(error.label, LABEL_ERROR_CATEGORY[error.kind])
        for error in score_case(output.labels, truth, blank=blank).errors
    }
    if output.is_simulated:
        errors |= {
            AIError(error["label"], DELIBERATE_ERROR_CATEGORY[error["kind"]])
            for error in output.deliberate_errors
            if error.get("kind") in DELIBERATE_ERROR_CATEGORY
        }
    visible = VISIBLE_CATEGORIES.get(arm, set())
    return frozenset(error for error in errors if error.category in visible)
