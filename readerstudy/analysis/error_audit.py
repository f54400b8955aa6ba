"""Error auditing in the AI arms: which of the AI's errors did the readers flag?

The AI's errors a reader was shown are defined in reading/ai_errors.py. An annotation matches an error when
it names that label with the matching category: false finding with a false label, missed finding with a
missed label, wrong location with a simulated wrong side. Each (read, error) pair counts once, however many
annotations name it; an annotation that names no error of its case is unmatched.
"""

from dataclasses import dataclass

from readerstudy.models import AI_ARMS, ErrorCategory
from readerstudy.reading.ai_errors import AUDITED_CATEGORIES, AIError, ai_errors

from .dataset import CASE_TYPES
from .mixed_model import not_estimable


@dataclass
class ReadAudit:
    arm: str
    case_type: str
    errors: frozenset
    flagged: frozenset
    annotations: list
    unmatched: list


def audit_read(arm, case_type, errors, annotations):
    named = {AIError(a.label, a.category) for a in annotations if a.label}
    return ReadAudit(
        arm=arm,
        case_type=case_type,
        errors=errors,
        flagged=errors & named,
        annotations=annotations,
        unmatched=[a for a in annotations if AIError(a.label, a.category) not in errors],
    )


def error_audit_section(data):
    arms = [arm for arm in data.arms if arm in AI_ARMS]
    if not arms:
        return not_estimable("the study has no AI arm")
    if not data.outputs:
        return not_estimable("no AI output is pinned to this study")
    rows = data.reads[data.reads["arm"].isin(arms)]
    audits, without_output = [], 0
    for read_id, case_id, arm, case_type in zip(rows["read"], rows["case_id"], rows["arm"], rows["case_type"]):
        output = data.outputs.get(case_id)
        if output is None:
            without_output += 1
            continue
        audits.append(
            audit_read(
                arm,
                case_type,
                ai_errors(output, data.truths[case_id], arm, blank=data.blank),
                data.annotations[read_id],
            )
        )
    return {
        "estimable": True,
        "reason": None,
        "reads_without_output": without_output,
        "categories": [{"value": value, "name": name} for value, name in ErrorCategory.choices],
        "audited_categories": AUDITED_CATEGORIES,
        "per_arm": [summarise(arm, [a for a in audits if a.arm == arm]) for arm in arms],
        "by_case_type": {
            case_type: [
                summarise(arm, [a for a in audits if a.arm == arm and a.case_type == case_type]) for arm in arms
            ]
            for case_type in CASE_TYPES
        },
    }


def summarise(arm, audits):
    errors = sum(len(a.errors) for a in audits)
    flagged = sum(len(a.flagged) for a in audits)
    annotations = [annotation for a in audits for annotation in a.annotations]
    unmatched = sum(len(a.unmatched) for a in audits)
    return {
        "arm": arm,
        "reads": len(audits),
        "reads_with_errors": sum(bool(a.errors) for a in audits),
        "errors": errors,
        "flagged": flagged,
        "flagged_share": flagged / errors if errors else None,
        "by_kind": {category: _kind(audits, category) for category in AUDITED_CATEGORIES},
        "annotations": len(annotations),
        "matched_annotations": len(annotations) - unmatched,
        "unmatched_annotations": unmatched,
        "by_category": {
            value: {
                "significant": sum(a.category == value and a.clinically_significant for a in annotations),
                "not_significant": sum(a.category == value and not a.clinically_significant for a in annotations),
            }
            for value in ErrorCategory.values
        },
    }


def _kind(audits, category):
    errors = sum(1 for a in audits for error in a.errors if error.category == category)
    flagged = sum(1 for a in audits for error in a.flagged if error.category == category)
    return {"errors": errors, "flagged": flagged, "share": flagged / errors if errors else None}
