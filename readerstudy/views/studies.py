"""The coordinator's study page: design, lifecycle, progress and audit log."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from readerstudy.core.errors import Refused
from readerstudy.core.roles import ADMIN, COORDINATOR, READER, has_role, role_required
from readerstudy.exports import TABLES, csv_lines, json_chunks, table
from readerstudy.models import AuditEntry, CaseSet, ReadingSession, Study, StudyAnalysis
from readerstudy.reading.progress import arm_progress, reader_progress, silent_assignments, waiting_sessions
from readerstudy.rules import RUN_STUDY
from readerstudy.studies.design import DesignRefused
from readerstudy.studies.enrolment import add_readers, assign_case_set, balance_note, preview
from readerstudy.studies.history import protocol_history
from readerstudy.studies.lifecycle import audit, close_study, open_session_early, open_study
from readerstudy.studies.pinning import unpinned_cases
from readerstudy.studies.team import add_to_team, remove_from_team

from .study_access import study_view


def available_readers(study):
    return (
        get_user_model()
        .objects.filter(groups__name=READER, is_active=True)
        .exclude(assignments__study=study)
        .distinct()
        .order_by("username")
    )


def team_candidates(study):
    """Active coordinators (admins included) not yet on the team."""
    return (
        get_user_model()
        .objects.filter(groups__name__in=[COORDINATOR, ADMIN], is_active=True)
        .exclude(study_teams__study=study)
        .distinct()
        .order_by("username")
    )


@study_view
def study_detail(request, study):
    return _study_page(request, study)


def _study_page(request, study, status=200):
    designable = study.status != Study.Status.CLOSED and not study.is_free_form
    return render(
        request,
        "studies/detail.html",
        {
            "study": study,
            "balance": balance_note(study) if study.design_version else "",
            "readers": reader_progress(study),
            "arms": arm_progress(study),
            "silent": silent_assignments(study),
            "waiting": waiting_sessions(study),
            "unpinned": unpinned_cases(study).count() if study.status == Study.Status.DRAFT else 0,
            "candidates": available_readers(study) if designable else [],
            "all_readers": get_user_model().objects.filter(groups__name=READER, is_active=True).order_by("username"),
            "audit": study.audit_entries.all()[:200],
            "team": study.team.select_related("user", "added_by"),
            "team_candidates": team_candidates(study),
            "history": protocol_history(study),
            "case_sets": CaseSet.objects.all() if study.is_free_form else [],
            "is_admin": has_role(request.user, ADMIN),
            "analysis": StudyAnalysis.objects.filter(study=study)
            .only("result", "computed_at", "requested_version", "computed_version", "error")
            .first(),
        },
        status=status,
    )


def _refuse_form(request, study, form):
    """A choice that is not one of the page's (a stale page or a hand-made request): the page, saying why."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
    return _study_page(request, study, status=400)


def _act(request, study, action, done):
    try:
        action(study)
    except Refused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, done)
    return redirect("study-detail", pk=study.pk)


@require_POST
@study_view
def study_open(request, study):
    return _act(request, study, lambda study: open_study(study, request.user), "The study is open.")


@require_POST
@study_view
def study_close(request, study):
    return _act(request, study, lambda study: close_study(study, request.user), "The study is closed.")


class AddReadersForm(forms.Form):
    # Not required: choosing nobody is refused by the enrolment, with its own message.
    readers = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.all(),
        required=False,
        error_messages={
            "invalid_pk_value": "There is no reader “%(pk)s”: choose readers from the list.",
            "invalid_choice": "There is no reader “%(value)s”: choose readers from the list.",
        },
    )


@require_POST
@study_view
def study_add_readers(request, study):
    """First a preview of the design for the chosen readers; "Create" then makes it in one transaction."""
    form = AddReadersForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, study, form)
    chosen = list(form.cleaned_data["readers"].order_by("username"))
    if "create" not in request.POST:
        try:
            table = preview(study, chosen)
        except DesignRefused as refused:
            messages.error(request, str(refused))
            return redirect("study-detail", pk=study.pk)
        return render(
            request,
            "studies/preview.html",
            {"study": study, "table": table, "chosen": chosen, "balance": balance_note(study, adding=len(chosen))},
        )
    return _act(
        request,
        study,
        lambda study: add_readers(study, chosen, by=request.user),
        f"Added {len(chosen)} reader(s) to the design.",
    )


@require_POST
@study_view
def study_open_session(request, study, session_id):
    session = get_object_or_404(ReadingSession, pk=session_id, study=study)
    reason = request.POST.get("reason", "")
    return _act(
        request,
        study,
        lambda study: open_session_early(session, request.user, reason),
        f"Session {session.index} of {session.reader} is open.",
    )


class TeamMemberForm(forms.Form):
    # Any user: the team service refuses, in words, those who may not join.
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(),
        error_messages={
            "required": "Choose a coordinator.",
            "invalid_choice": "There is no user “%(value)s”: choose a coordinator from the list.",
        },
    )
    reason = forms.CharField(required=False, max_length=500)


@require_POST
@study_view
def study_team_add(request, study):
    form = TeamMemberForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, study, form)
    user = form.cleaned_data["user"]
    return _act(
        request,
        study,
        lambda study: add_to_team(study, user, request.user, form.cleaned_data["reason"]),
        f"{user.get_username()} is on the team.",
    )


@require_POST
@study_view
def study_team_remove(request, study, user_id):
    member = get_object_or_404(study.team.select_related("user"), user_id=user_id).user
    response = _act(
        request,
        study,
        lambda study: remove_from_team(study, member, request.user, request.POST.get("reason", "")),
        f"{member.get_username()} left the team.",
    )
    # Who has just left the team no longer sees the study: back to the list of those they run.
    return response if request.user.has_perm(RUN_STUDY, study) else redirect("home")


EXPORT_FORMATS = {"csv": (csv_lines, "text/csv; charset=utf-8"), "json": (json_chunks, "application/json")}


@study_view
def study_export(request, study, name, fmt):
    """A streamed export file; each download goes to the audit log."""
    if name not in TABLES or fmt not in EXPORT_FORMATS:
        raise Http404("No such export.")
    writer, content_type = EXPORT_FORMATS[fmt]
    audit(study, request.user, AuditEntry.Action.EXPORTED, f"Downloaded {name}.{fmt}.")
    response = StreamingHttpResponse(table(study, name, writer), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-{name}.{fmt}"'
    return response


class AssignCaseSetForm(forms.Form):
    reader = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(),
        error_messages={
            "required": "Choose a reader.",
            "invalid_choice": "There is no reader “%(value)s”: choose a reader from the list.",
        },
    )
    case_set = forms.ModelChoiceField(
        queryset=CaseSet.objects.all(),
        error_messages={
            "required": "Choose a case set.",
            "invalid_choice": "There is no case set “%(value)s”: choose a case set from the list.",
        },
    )
    # Checked against the study's arms by the enrolment.
    arm = forms.CharField(required=False)


@require_POST
@role_required(ADMIN)
@study_view
def study_assign_case_set(request, study):
    """Free-form studies: a case set for one reader under one arm."""
    form = AssignCaseSetForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, study, form)
    reader, case_set, arm = (form.cleaned_data[name] for name in ("reader", "case_set", "arm"))
    return _act(
        request,
        study,
        lambda study: assign_case_set(study, reader, case_set, arm),
        f"Assigned {case_set} to {reader} under {arm}.",
    )
