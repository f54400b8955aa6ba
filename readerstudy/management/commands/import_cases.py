from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from readerstudy.cases.ingest import IngestOptions, IngestRefused, import_cases


class Command(BaseCommand):
    help = (
        "Import a folder of DICOM radiographs as cases: each sub-folder is a case, each loose file a case of "
        "its own. Rejected files are listed with their reason; the exit status is 1 if any file was rejected."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)
        parser.add_argument("--labels", type=Path, help="Ground-truth CSV: case_id plus one column per label.")
        parser.add_argument("--case-set", required=True, help="Case set to add the cases to (created if new).")
        identified = parser.add_mutually_exclusive_group()
        identified.add_argument(
            "--deidentify", action="store_true", help="Blank identifying attributes in the stored copy."
        )
        identified.add_argument(
            "--allow-identified", action="store_true", help="Store files that carry identifying attributes as they are."
        )

    def handle(self, *args, directory, labels, case_set, deidentify, allow_identified, **options):
        if labels is not None and not labels.is_file():
            raise CommandError(f"labels file {labels} does not exist")
        try:
            report = import_cases(
                directory,
                IngestOptions(
                    case_set_name=case_set,
                    labels_path=labels,
                    deidentify=deidentify,
                    allow_identified=allow_identified,
                ),
            )
        except IngestRefused as refused:
            for problem in refused.problems:
                self.stderr.write(f"error: {problem}")
            raise CommandError("nothing was imported") from None
        for name, reason in report.rejected:
            self.stderr.write(f"rejected {name}: {reason}")
        rejected_names = {name for name, _ in report.rejected}
        for source_id in report.not_imported:
            if source_id not in rejected_names:  # a loose file's own line already says it
                self.stderr.write(f"case {source_id} not imported: it has rejected files")
        for name, message in report.warnings:
            self.stdout.write(f"warning {name}: {message}")
        for source_id, public_id in report.created:
            self.stdout.write(f"imported {source_id} as {public_id}")
        self.stdout.write(report.summary())
        if not report.ok:
            raise CommandError(f"{len(report.rejected)} file(s) rejected", returncode=1)
