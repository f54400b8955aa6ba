"""A study's analysis for coordinators: the page, the JSON, the self-contained HTML report and each plot.

Views only read what the background task stored (ARCHITECTURE.md: processes); "Recompute" asks for a new computation.
"""

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from readerstudy.analysis.schedule import request_analysis
from readerstudy.models import AnalysisPlot, AuditEntry, StudyAnalysis
from readerstudy.studies.lifecycle import audit

from .study_access import study_view

PLOT_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
NOT_COMPUTED = "The analysis has not been computed yet; it is computed in the background after reads change."


def _analysis(study):
    return StudyAnalysis.objects.filter(study=study).first()


@study_view
def study_analysis(request, study):
    analysis = _analysis(study)
    pk = study.pk
    plots = (
        [
            {
                "name": plot.name,
                "title": plot.title,
                "src": reverse("study-analysis-plot", args=[pk, plot.name, "svg"]),
                "svg_url": reverse("study-analysis-plot", args=[pk, plot.name, "svg"]),
                "png_url": reverse("study-analysis-plot", args=[pk, plot.name, "png"]),
            }
            for plot in AnalysisPlot.objects.filter(analysis=analysis).only("name", "title")
        ]
        if analysis
        else []
    )
    return render(
        request,
        "studies/analysis.html",
        {
            "study": study,
            "state": analysis,
            "analysis": analysis.result if analysis else None,
            "plots": {plot["name"]: plot for plot in plots},
        },
    )


@study_view
def study_analysis_json(request, study):
    analysis = _analysis(study)
    if analysis is None or analysis.result is None:
        return JsonResponse({"detail": NOT_COMPUTED}, status=409)
    audit(study, request.user, AuditEntry.Action.EXPORTED, "Downloaded analysis.json.")
    return JsonResponse(analysis.result, json_dumps_params={"ensure_ascii": False})


@study_view
def study_analysis_report(request, study):
    analysis = _analysis(study)
    if analysis is None or analysis.result is None:
        messages.error(request, NOT_COMPUTED)
        return redirect("study-analysis", pk=study.pk)
    audit(study, request.user, AuditEntry.Action.EXPORTED, "Downloaded analysis.html.")
    response = HttpResponse(analysis.report_html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-analysis.html"'
    return response


@study_view
def study_analysis_plot(request, study, name, fmt):
    plot = AnalysisPlot.objects.filter(analysis__study=study, name=name).first()
    if plot is None or fmt not in PLOT_FORMATS:
        raise Http404("No such plot.")
    content = plot.svg if fmt == "svg" else bytes(plot.png)
    return HttpResponse(content, content_type=PLOT_FORMATS[fmt])


@require_POST
@study_view
def study_analysis_recompute(request, study):
    """Ask for the analysis now (after a lost message, say); unchanged data and software are not recomputed."""
    request_analysis(study.pk, force=True)
    messages.success(
        request, "The analysis is being brought up to date in the background; reload this page in a moment."
    )
    return redirect("study-analysis", pk=study.pk)
