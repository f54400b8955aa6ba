"""Admins' page for readers: bulk enrolment from CSV with set-password links, and deactivation."""

from django.contrib import messages
from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from readerstudy.core.roles import ADMIN, READER, role_required
from readerstudy.studies.people import COLUMNS, EnrolmentRefused, enrol_readers

MAX_CSV_BYTES = 1024 * 1024


def _page(request, **context):
    readers = User.objects.filter(groups__name=READER).select_related("reader_profile").order_by("username")
    return render(
        request,
        "people/list.html",
        {"readers": readers, "columns": COLUMNS, **context},
        status=400 if context.get("problems") else 200,
    )


@role_required(ADMIN)
def people(request):
    return _page(request)


@require_POST
@role_required(ADMIN)
def people_import(request):
    upload = request.FILES.get("csv")
    if upload is None:
        return _page(request, problems=["Choose a CSV file."])
    if upload.size > MAX_CSV_BYTES:
        return _page(request, problems=["The file is larger than 1 MB."])
    try:
        created = enrol_readers(upload.read())
    except EnrolmentRefused as refused:
        return _page(request, problems=refused.problems)
    links = [(new.user, request.build_absolute_uri(new.set_password_path)) for new in created]
    return _page(request, created=links)


@require_POST
@role_required(ADMIN)
def people_set_active(request, pk):
    """Deactivate (or reactivate) a reader: they can no longer log in; nothing of theirs is deleted."""
    user = get_object_or_404(User, pk=pk, groups__name=READER)
    user.is_active = request.POST.get("active") == "1"
    user.save(update_fields=["is_active"])
    messages.success(request, f"{user.username} is {'active' if user.is_active else 'deactivated'}.")
    return redirect("people")
