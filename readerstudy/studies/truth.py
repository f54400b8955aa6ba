"""Correcting the ground truth of a case that running studies read: the one way to change it once a study has
opened. It needs a reason, writes an audit entry in each such study and a history row, and marks their
analyses out of date."""

from django.db import transaction

from readerstudy.core.errors import Refused
from readerstudy.core.signals import study_data_changed
from readerstudy.models import AuditEntry, GroundTruth, Label, Study, TruthValue
from readerstudy.models.protocol import running_studies_using
from readerstudy.studies.lifecycle import audit


class CorrectionRefused(Refused):
    pass


def correct_ground_truth(case, slug, value, user, reason):
    """Set `case`'s truth for label `slug` to `value`; returns the studies whose analysis is now stale."""
    if not reason.strip():
        raise CorrectionRefused("Say why the ground truth is corrected.")
    if value not in TruthValue.values:
        raise CorrectionRefused(f"Unknown truth value {value!r}.")
    label = Label.objects.filter(slug=slug).first()
    if label is None:
        raise CorrectionRefused(f"Unknown label {slug!r}.")
    with transaction.atomic():
        row = GroundTruth.objects.select_for_update().filter(case=case, label=label).first()
        before = row.value if row else TruthValue.UNKNOWN
        if before == value:
            raise CorrectionRefused(f"{label} is already {value} for case {case}.")
        row = row or GroundTruth(case=case, label=label)
        row.value = value
        row._change_reason = reason.strip()
        row.save(correcting=True)
        case.refresh_normality()
        studies = list(running_studies_using(case.case_sets.values("pk")))
        for study in studies:
            audit(
                study,
                user,
                AuditEntry.Action.TRUTH_CORRECTED,
                f"Ground truth of case {case}: {label} {before} → {value}.",
                reason.strip(),
            )
            study_data_changed.send(sender=Study, study_id=study.pk)
        return studies
