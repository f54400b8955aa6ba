import tempfile
from pathlib import Path

from django import forms
from django.conf import settings
from django.shortcuts import render

from readerstudy.cases.archives import extract_zip
from readerstudy.cases.ingest import IngestOptions, import_cases
from readerstudy.core.errors import Refused
from readerstudy.core.roles import ADMIN, role_required


class CaseImportForm(forms.Form):
    archive = forms.FileField(help_text="A ZIP of the case folders (one sub-folder per case, or loose files).")
    labels = forms.FileField(
        required=False,
        help_text="Optional ground-truth CSV (case_id plus label columns). "
        "A labels.csv at the top of the archive is used when no file "
        "is given here, and ignored when one is.",
    )
    case_set = forms.CharField(max_length=200, initial="", help_text="Created if it does not exist.")
    deidentify = forms.BooleanField(required=False, help_text="Blank identifying attributes in the stored copy.")
    allow_identified = forms.BooleanField(required=False, help_text="Store files that carry identifying data.")

    def clean(self):
        data = super().clean()
        if data.get("deidentify") and data.get("allow_identified"):
            raise forms.ValidationError("Choose de-identify or allow identified data, not both.")
        archive = data.get("archive")
        if archive and archive.size > settings.CASE_UPLOAD_MAX_BYTES:
            self.add_error("archive", "The archive is larger than this site accepts.")
        return data


@role_required(ADMIN)
def import_cases_view(request):
    form = CaseImportForm(request.POST or None, request.FILES or None)
    report = problems = None
    if request.method == "POST" and form.is_valid():
        report, problems = _run_import(form.cleaned_data, request.user)
    status = 400 if request.method == "POST" and (problems or not form.is_valid()) else 200
    return render(request, "cases/import.html", {"form": form, "report": report, "problems": problems}, status=status)


def _run_import(data, user):
    """Unpack the upload into a scratch folder, run the same ingest as the command, then remove it."""
    with tempfile.TemporaryDirectory(prefix="case-upload-", dir=settings.DATA_DIR) as scratch:
        scratch = Path(scratch)
        labels_path = None
        if data.get("labels"):
            labels_path = scratch / "labels.csv"
            with open(labels_path, "wb") as sink:
                for chunk in data["labels"].chunks():
                    sink.write(chunk)
        try:
            root = extract_zip(data["archive"], scratch / "cases", settings.CASE_UPLOAD_MAX_BYTES)
            labels_path = _labels_in_archive(root, labels_path)
            options = IngestOptions(
                case_set_name=data["case_set"],
                labels_path=labels_path,
                deidentify=data["deidentify"],
                allow_identified=data["allow_identified"],
                user=user,
            )
            return import_cases(root, options), None
        except Refused as refused:  # the archive, or the import as a whole
            return None, refused.problems


def _labels_in_archive(root, uploaded_labels):
    """The archive's own labels.csv is the labels file, unless one was uploaded beside it."""
    archived = root / "labels.csv"
    if not archived.is_file():
        return uploaded_labels
    if uploaded_labels is None:
        return archived
    archived.unlink()
    return uploaded_labels
