"""A study's analysis for coordinators: the page, the JSON, the self-contained HTML report and each plot.

Views only read what the background task stored (DESIGN.md §7); "Recompute" asks for a new computation.
"""

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from readerstudy.models import AnalysisPlot, AuditEntry, Study, StudyAnalysis
from readerstudy.roles import COORDINATOR, role_required
from readerstudy.services.analysis.schedule import request_analysis
from readerstudy.services.lifecycle import audit

PLOT_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
NOT_COMPUTED = "The analysis has not been computed yet; it is computed in the background after reads change."


def _analysis(pk):
    study = get_object_or_404(Study, pk=pk)
    return study, StudyAnalysis.objects.filter(study=study).first()


@role_required(COORDINATOR)
def study_analysis(request, pk):
    study, analysis = _analysis(pk)
    plots = [{"name": plot.name, "title": plot.title,
              "src": reverse("study-analysis-plot", args=[pk, plot.name, "svg"]),
              "svg_url": reverse("study-analysis-plot", args=[pk, plot.name, "svg"]),
              "png_url": reverse("study-analysis-plot", args=[pk, plot.name, "png"])}
             for plot in AnalysisPlot.objects.filter(analysis=analysis).only("name", "title")] if analysis else []
    return render(request, "studies/analysis.html", {
        "study": study, "state": analysis, "analysis": analysis.result if analysis else None,
        "plots": {plot["name"]: plot for plot in plots}})


@role_required(COORDINATOR)
def study_analysis_json(request, pk):
    study, analysis = _analysis(pk)
    if analysis is None or analysis.result is None:
        return JsonResponse({"detail": NOT_COMPUTED}, status=409)
    audit(study, request.user, AuditEntry.Action.EXPORTED, "Downloaded analysis.json.")
    return JsonResponse(analysis.result, json_dumps_params={"ensure_ascii": False})


@role_required(COORDINATOR)
def study_analysis_report(request, pk):
    study, analysis = _analysis(pk)
    if analysis is None or analysis.result is None:
        messages.error(request, NOT_COMPUTED)
        return redirect("study-analysis", pk=pk)
    audit(study, request.user, AuditEntry.Action.EXPORTED, "Downloaded analysis.html.")
    response = HttpResponse(analysis.report_html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-analysis.html"'
    return response


@role_required(COORDINATOR)
def study_analysis_plot(request, pk, name, fmt):
    plot = AnalysisPlot.objects.filter(analysis__study_id=pk, name=name).first()
    if plot is None or fmt not in PLOT_FORMATS:
        raise Http404("No such plot.")
    content = plot.svg if fmt == "svg" else bytes(plot.png)
    return HttpResponse(content, content_type=PLOT_FORMATS[fmt])


@require_POST
@role_required(COORDINATOR)
def study_analysis_recompute(request, pk):
    """Ask for the analysis now (after a lost message, say); unchanged data and software are not recomputed."""
    study = get_object_or_404(Study, pk=pk)
    request_analysis(study.pk, force=True)
    messages.success(request, "The analysis is being brought up to date in the background; reload this page in "
                              "a moment.")
    return redirect("study-analysis", pk=pk)
