"""The rule that protects a running study's protocol, kept on the models so that the admin, the services, the
API and the shell all meet it (ARCHITECTURE.md): once a study opens, its arms, questions, primary comparison,
blank-label rule, design, case-set membership, pins and the ground truth of its cases are frozen; its status
changes only through the open and close services. Every refusal names the rule.
"""

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Q

DRAFT = "draft"


class ProtocolFrozen(ValidationError):
    """A change the running study's protocol forbids; the message says which rule."""


def running_studies_using(case_set_ids):
    """Studies past their draft that read these case sets (as their cases or their practice cases)."""
    Study = apps.get_model("readerstudy", "Study")
    return (
        Study.objects.exclude(status=DRAFT)
        .filter(Q(case_set_id__in=case_set_ids) | Q(practice_case_set_id__in=case_set_ids))
        .order_by("pk")
    )


def case_set_rule(case_set):
    """The rule that freezes the case set's membership, or None while no running study reads it."""
    study = running_studies_using([case_set.pk]).first()
    return study and f"Case set “{case_set}” belongs to study “{study}”, which is {study.status}: its cases are frozen."


def case_truth_rule(case):
    """The rule that freezes the case's ground truth (the audited correction aside), or None."""
    study = running_studies_using(case.case_sets.values("pk")).first()
    return study and (
        f"Case {case} is read in study “{study}”, which is {study.status}: its ground truth changes "
        "only through “Correct ground truth”, with a reason (audited)."
    )


def refuse_case_set_change(case_set):
    if rule := case_set_rule(case_set):
        raise ProtocolFrozen(rule)


def refuse_truth_change(case):
    if rule := case_truth_rule(case):
        raise ProtocolFrozen(rule)


def refuse_unless_draft(study, what):
    if study.status != DRAFT:
        raise ProtocolFrozen(f"Study “{study}” is {study.status}: its {what} are frozen.")
