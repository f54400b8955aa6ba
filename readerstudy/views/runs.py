"""Coordinator pages: run a model over a case set, watch it, retry failures, score it, pin it to a study."""

import json

from django import forms
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from inference import jobs
from inference.models import InferenceJob, InferenceRun, ModelConfiguration
from inference.run_metrics import run_metrics
from inference.run_progress import run_progress, workers
from readerstudy.core.roles import COORDINATOR, role_required
from readerstudy.core.scoring import metrics_as_dict, metrics_to_rows
from readerstudy.exports import csv_lines
from readerstudy.models import CaseSet, Study
from readerstudy.rules import studies_run_by
from readerstudy.studies.pinning import PinRefused, pin_run


class RunForm(forms.Form):
    case_set = forms.ModelChoiceField(queryset=CaseSet.objects.all())
    configuration = forms.ModelChoiceField(queryset=ModelConfiguration.objects.all(), label="Model")


class PinForm(forms.Form):
    study = forms.ModelChoiceField(queryset=Study.objects.none())

    def __init__(self, *args, run, user, **kwargs):
        super().__init__(*args, prefix="pin", **kwargs)
        # The draft studies on the run's case set that the user runs: another team's study is not a choice.
        self.fields["study"].queryset = studies_run_by(
            user, Study.objects.filter(status=Study.Status.DRAFT, case_set=run.case_set)
        )


@role_required(COORDINATOR)
def run_list(request):
    form = RunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        case_set = form.cleaned_data["case_set"]
        if not case_set.memberships.exists():
            form.add_error("case_set", "This case set has no cases.")
        else:
            run = jobs.create_run(case_set, form.cleaned_data["configuration"], request.user)
            messages.success(request, f"Queued {run.jobs.count()} job(s).")
            return redirect("inference:run", run.pk)
    runs = InferenceRun.objects.select_related("case_set", "configuration")[:100]
    return render(
        request,
        "inference/run_list.html",
        {"form": form, "runs": runs, "workers": workers()},
        status=400 if form.errors else 200,
    )


@role_required(COORDINATOR)
def run_detail(request, run_id):
    run = get_object_or_404(InferenceRun.objects.select_related("case_set", "configuration"), pk=run_id)
    progress = run_progress(run)
    context = {
        "run": run,
        "progress": progress,
        "workers": workers(),
        "metrics": metrics_as_dict(run_metrics(run)) if progress["finished"] else None,
        "pin_form": PinForm(run=run, user=request.user),
        "jobs": InferenceJob.objects.filter(run=run).select_related("case", "output")[:500],
    }
    return render(request, "inference/run_detail.html", context)


@role_required(COORDINATOR)
def run_progress_json(request, run_id):
    run = get_object_or_404(InferenceRun, pk=run_id)
    progress = run_progress(run)
    return JsonResponse(
        {
            **progress,
            "failures": [list(f) for f in progress["failures"]],
            "retrying": [list(r) for r in progress["retrying"]],
        }
    )


@require_POST
@role_required(COORDINATOR)
def run_retry(request, run_id):
    run = get_object_or_404(InferenceRun, pk=run_id)
    count = jobs.retry_jobs(InferenceJob.objects.filter(run=run))
    messages.success(request, f"Re-queued {count} job(s).")
    return redirect("inference:run", run.pk)


@require_POST
@role_required(COORDINATOR)
def run_pin(request, run_id):
    run = get_object_or_404(InferenceRun, pk=run_id)
    form = PinForm(request.POST, run=run, user=request.user)
    if not form.is_valid():
        messages.error(request, "Choose a draft study that uses this run's case set.")
        return redirect("inference:run", run.pk)
    try:
        report = pin_run(form.cleaned_data["study"], run, request.user)
    except PinRefused as refused:
        messages.error(request, str(refused))
        return redirect("inference:run", run.pk)
    messages.success(request, f"Pinned {report.pinned} output(s) to {form.cleaned_data['study']}.")
    for case_id, problem in report.problems:
        messages.warning(request, f"Case {case_id}: {problem}")
    return redirect("inference:run", run.pk)


@role_required(COORDINATOR)
def run_metrics_export(request, run_id, fmt):
    run = get_object_or_404(InferenceRun, pk=run_id)
    metrics = run_metrics(run)
    if fmt == "json":
        response = HttpResponse(json.dumps(metrics_as_dict(metrics), indent=2), content_type="application/json")
    else:
        rows = metrics_to_rows(metrics)
        columns = list(rows[0]) if rows else ["metric"]
        # Spreadsheet-safe, as every CSV export (label names are the admins' text).
        response = HttpResponse(
            "".join(csv_lines(columns, ([row[c] for c in columns] for row in rows))), content_type="text/csv"
        )
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-metrics.{fmt}"'
    return response
