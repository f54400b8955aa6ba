import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from readerstudy.analysis.refresh import AnalysisFailed, current_analysis
from readerstudy.exports import FILES, table
from readerstudy.management.study_argument import study_from_argument
from readerstudy.models import AuditEntry
from readerstudy.studies.lifecycle import audit


class Command(BaseCommand):
    help = (
        "Write a study's reads (CSV and JSON), timing events and annotations (CSV), and its analysis "
        "(JSON and the self-contained HTML report) into a folder."
    )

    def add_arguments(self, parser):
        parser.add_argument("study", help="The study's id or exact title.")
        parser.add_argument("--out", required=True, type=Path, help="Folder to write into (created if missing).")

    def handle(self, *args, study, out, **options):
        study = study_from_argument(study)
        out.mkdir(parents=True, exist_ok=True)
        for filename, name, writer in FILES:
            with open(out / filename, "w", encoding="utf-8", newline="") as handle:
                for chunk in table(study, name, writer):
                    handle.write(chunk)
        audit(study, None, AuditEntry.Action.EXPORTED, f"export_study wrote {', '.join(f for f, _, _ in FILES)}.")
        # The analysis of the data as it is now (its data hash is in the report): the cached one if it is of the
        # same data, else computed here.
        try:
            analysis = current_analysis(study)
        except AnalysisFailed as failed:
            raise CommandError(f"{failed}. The data files are written; the analysis files are not.") from None
        (out / "analysis.json").write_text(json.dumps(analysis.result, indent=1, ensure_ascii=False), encoding="utf-8")
        (out / "analysis.html").write_text(analysis.report_html, encoding="utf-8")
        audit(study, None, AuditEntry.Action.EXPORTED, "export_study wrote analysis.json, analysis.html.")
        self.stdout.write(f"Wrote {len(FILES) + 2} files to {out}")
