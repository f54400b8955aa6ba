from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from readerstudy.core.roles import COORDINATOR, READER, has_role
from readerstudy.models import Assignment, Case, CaseSet, Study
from readerstudy.rules import studies_run_by


@login_required
def home(request):
    """The landing page: what each role can do next."""
    context = {}
    if has_role(request.user, READER):
        context["my_assignments"] = Assignment.objects.filter(
            reader=request.user, study__status=Study.Status.OPEN
        ).count()
    if has_role(request.user, COORDINATOR):
        context["studies"] = studies_run_by(request.user, Study.objects.select_related("case_set"))[:50]
        context["case_sets"] = CaseSet.objects.all()[:50]
        context["case_count"] = Case.objects.count()
    return render(request, "home.html", context)
