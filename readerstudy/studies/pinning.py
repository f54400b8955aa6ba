"""Pinning: the one model output per case that every reader of a study sees (ARCHITECTURE.md: frozen
protocol and outputs)."""

from dataclasses import dataclass, field

from django.db import transaction

from inference.models import JobStatus, ModelOutput, StudyOutputPin
from readerstudy.core.errors import Refused
from readerstudy.models import Arm, Case, Study


class PinRefused(Refused):
    pass


@dataclass
class PinReport:
    pinned: int = 0
    problems: list = field(default_factory=list)  # (case public id, reason)


def pin_problem(output, study):
    """Why `output` cannot be pinned to `study`, or None."""
    if output.job.status != JobStatus.SUCCEEDED:
        return f"the output is {output.job.get_status_display().lower()}; re-run it or remove the case"
    if Arm.FULL_REASONING in study.arms:
        report_turn = output.report_turn
        if report_turn is None:
            return "the full-reasoning arm shows the structured report, and this output has no report turn"
        if not output.turn_succeeded(report_turn):
            return "the structured-report turn did not finish"
    return None


def pin_run(study, run, user=None) -> PinReport:
    """Pin the run's output for every case of its case set (the study's, or its practice cases)."""
    if run.case_set_id not in (study.case_set_id, study.practice_case_set_id):
        raise PinRefused(f"the run is on case set {run.case_set}, the study uses {study.case_set}")
    report = PinReport()
    outputs = {o.case_id: o for o in ModelOutput.objects.filter(job__run=run).select_related("job")}
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if locked.status != Study.Status.DRAFT:
            raise PinRefused(f"the study is {locked.get_status_display().lower()}: its pinned outputs are frozen")
        for case in run.case_set.ordered_cases():
            output = outputs.get(case.pk)
            problem = "no output from this run" if output is None else pin_problem(output, study)
            if problem:
                report.problems.append((case.public_id, problem))
                continue
            StudyOutputPin.objects.update_or_create(
                study=study, case=case, defaults={"output": output, "pinned_by": user}
            )
            report.pinned += 1
    return report


def unpinned_cases(study):
    """Cases the study's readers may see under an AI arm (practice cases too) that have no pinned output."""
    pinned = StudyOutputPin.objects.filter(study=study).values_list("case_id", flat=True)
    sets = [study.case_set_id] + ([study.practice_case_set_id] if study.practice_case_set_id else [])
    return (
        Case.objects.filter(case_set_memberships__case_set__in=sets)
        .exclude(pk__in=pinned)
        .order_by("case_set_memberships__case_set_id", "case_set_memberships__position")
    )
