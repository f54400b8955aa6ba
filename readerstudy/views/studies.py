"""The coordinator's study page: design, lifecycle, progress and audit log."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from inference.pinning import unpinned_cases
from readerstudy.models import AuditEntry, CaseSet, ReadingSession, Study, StudyAnalysis
from readerstudy.roles import ADMIN, COORDINATOR, READER, has_role, role_required
from readerstudy.services.design import DesignRefused
from readerstudy.services.designer import add_readers, assign_case_set, balance_note, preview
from readerstudy.services.exports import TABLES, csv_lines, json_chunks, table
from readerstudy.services.history import protocol_history
from readerstudy.services.lifecycle import LifecycleRefused, audit, close_study, open_session_early, open_study
from readerstudy.services.progress import arm_progress, reader_progress, silent_assignments, waiting_sessions


def available_readers(study):
    return (get_user_model().objects.filter(groups__name=READER, is_active=True)
            .exclude(assignments__study=study).distinct().order_by("username"))


@role_required(COORDINATOR)
def study_detail(request, pk):
    return _study_page(request, pk)


def _study_page(request, pk, status=200):
    study = get_object_or_404(Study.objects.select_related("case_set"), pk=pk)
    designable = study.status != Study.Status.CLOSED and not study.is_free_form
    return render(request, "studies/detail.html", {
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
        "history": protocol_history(study),
        "case_sets": CaseSet.objects.all() if study.is_free_form else [],
        "is_admin": has_role(request.user, ADMIN),
        "analysis": StudyAnalysis.objects.filter(study=study).only(
            "result", "computed_at", "requested_version", "computed_version", "error").first(),
    }, status=status)


def _refuse_form(request, pk, form):
    """A choice that is not one of the page's (a stale page or a hand-made request): the page, saying why."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
    return _study_page(request, pk, status=400)


def _act(request, pk, action, done):
    study = get_object_or_404(Study, pk=pk)
    try:
        action(study)
    except (LifecycleRefused, DesignRefused) as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, done)
    return redirect("study-detail", pk=pk)


@require_POST
@role_required(COORDINATOR)
def study_open(request, pk):
    return _act(request, pk, lambda study: open_study(study, request.user), "The study is open.")


@require_POST
@role_required(COORDINATOR)
def study_close(request, pk):
    return _act(request, pk, lambda study: close_study(study, request.user), "The study is closed.")


class AddReadersForm(forms.Form):
    # Not required: choosing nobody is refused by the designer, with its own message.
    readers = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.all(), required=False, error_messages={
            "invalid_pk_value": "There is no reader “%(pk)s”: choose readers from the list.",
            "invalid_choice": "There is no reader “%(value)s”: choose readers from the list.",
        })


@require_POST
@role_required(COORDINATOR)
def study_add_readers(request, pk):
    """First a preview of the design for the chosen readers; "Create" then makes it in one transaction."""
    form = AddReadersForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, pk, form)
    chosen = list(form.cleaned_data["readers"].order_by("username"))
    if "create" not in request.POST:
        study = get_object_or_404(Study, pk=pk)
        try:
            table = preview(study, chosen)
        except DesignRefused as refused:
            messages.error(request, str(refused))
            return redirect("study-detail", pk=pk)
        return render(request, "studies/preview.html", {"study": study, "table": table, "chosen": chosen,
                                                        "balance": balance_note(study, adding=len(chosen))})
    return _act(request, pk, lambda study: add_readers(study, chosen, by=request.user),
                f"Added {len(chosen)} reader(s) to the design.")


@require_POST
@role_required(COORDINATOR)
def study_open_session(request, pk, session_id):
    session = get_object_or_404(ReadingSession, pk=session_id, study_id=pk)
    reason = request.POST.get("reason", "")
    return _act(request, pk, lambda study: open_session_early(session, request.user, reason),
                f"Session {session.index} of {session.reader} is open.")


EXPORT_FORMATS = {"csv": (csv_lines, "text/csv; charset=utf-8"), "json": (json_chunks, "application/json")}


@role_required(COORDINATOR)
def study_export(request, pk, name, fmt):
    """A streamed export file; each download goes to the audit log."""
    study = get_object_or_404(Study, pk=pk)
    if name not in TABLES or fmt not in EXPORT_FORMATS:
        raise Http404("No such export.")
    writer, content_type = EXPORT_FORMATS[fmt]
    audit(study, request.user, AuditEntry.Action.EXPORTED, f"Downloaded {name}.{fmt}.")
    response = StreamingHttpResponse(table(study, name, writer), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-{name}.{fmt}"'
    return response


class AssignCaseSetForm(forms.Form):
    reader = forms.ModelChoiceField(queryset=get_user_model().objects.all(), error_messages={
        "required": "Choose a reader.",
        "invalid_choice": "There is no reader “%(value)s”: choose a reader from the list.",
    })
    case_set = forms.ModelChoiceField(queryset=CaseSet.objects.all(), error_messages={
        "required": "Choose a case set.",
        "invalid_choice": "There is no case set “%(value)s”: choose a case set from the list.",
    })
    # Checked against the study's arms by the designer.
    arm = forms.CharField(required=False)


@require_POST
@role_required(ADMIN)
def study_assign_case_set(request, pk):
    """Free-form studies: a case set for one reader under one arm."""
    form = AssignCaseSetForm(request.POST)
    if not form.is_valid():
        return _refuse_form(request, pk, form)
    reader, case_set, arm = (form.cleaned_data[name] for name in ("reader", "case_set", "arm"))
    return _act(request, pk, lambda study: assign_case_set(study, reader, case_set, arm),
                f"Assigned {case_set} to {reader} under {arm}.")
