"""What changed in a study's protocol, and who changed it and why: the model history (django-simple-history)
of the study, its questions, its readers' enrolments, its case sets' membership and its cases' ground truth,
newest first, for the study page beside the audit log."""

from itertools import chain

from readerstudy.models import CaseSetMembership, GroundTruth, StudyQuestion, StudyReader

CHANGE_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def protocol_history(study, limit=200):
    case_sets = [pk for pk in (study.case_set_id, study.practice_case_set_id) if pk]
    records = chain(
        study.history.all(),
        StudyQuestion.history.filter(study_id=study.pk),
        StudyReader.history.filter(study_id=study.pk),
        CaseSetMembership.history.filter(case_set_id__in=case_sets),
        # Ground truth as imported is in the labels file; what counts here is a later change to it.
        GroundTruth.history.filter(case__case_set_memberships__case_set_id__in=case_sets).exclude(history_type="+"),
    )
    newest = sorted(records, key=lambda record: (record.history_date, record.history_id), reverse=True)[:limit]
    return [_described(record) for record in newest]


def _described(record):
    return {
        "at": record.history_date,
        "user": record.history_user.get_username() if record.history_user else "system",
        "what": f"{record.instance._meta.verbose_name} {record.instance}",
        "type": CHANGE_TYPES.get(record.history_type, record.history_type),
        "changes": _changes(record),
        "reason": record.history_change_reason or "",
    }


def _changes(record):
    previous = record.prev_record if record.history_type == "~" else None
    if previous is None:
        return []
    return [f"{change.field}: {change.old} → {change.new}" for change in record.diff_against(previous).changes]
