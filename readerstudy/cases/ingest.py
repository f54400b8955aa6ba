"""Case ingest: a folder of DICOM files (one sub-folder or loose file per case) into cases and a case set.

A rejected file is named with its reason and leaves nothing behind; a case with any rejected image is not
imported; re-importing the same files changes nothing (deduplicated by SOP Instance UID and content hash).
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from simple_history.utils import bulk_create_with_history

from readerstudy.cases.deidentification import deidentify
from readerstudy.cases.dicom_files import RejectedFile, inspect_file, normalised_bytes, sha256_hex
from readerstudy.cases.labels_csv import LabelsFileError, read_labels_file
from readerstudy.core import dicom_store
from readerstudy.core.errors import Refused
from readerstudy.models import Case, CaseImage, CaseSet, CaseSetMembership, GroundTruth, ImportBatch, Label
from readerstudy.models.protocol import case_set_rule

logger = logging.getLogger(__name__)


class IngestRefused(Refused):
    """The whole import is refused before anything is written (bad labels file, frozen case set…)."""


@dataclass
class IngestOptions:
    case_set_name: str
    labels_path: Path | None = None
    deidentify: bool = False
    allow_identified: bool = False
    user: object = None


@dataclass
class IngestReport:
    created: list = field(default_factory=list)  # (source id, public id)
    existing: list = field(default_factory=list)  # (source id, public id)
    rejected: list = field(default_factory=list)  # (file, reason)
    not_imported: list = field(default_factory=list)  # source ids of cases with a rejected file
    warnings: list = field(default_factory=list)  # (file, message)

    @property
    def ok(self):
        return not self.rejected

    def summary(self):
        return (
            f"{len(self.created)} case(s) imported, {len(self.existing)} already present, "
            f"{len(self.not_imported)} not imported, {len(self.rejected)} file(s) rejected"
        )


@dataclass
class _PreparedImage:
    relative_name: str
    inspected: object
    data: bytes
    sha256: str


def import_cases(directory, options: IngestOptions) -> IngestReport:
    directory = Path(directory)
    if not directory.is_dir():
        raise IngestRefused([f"{directory} is not a folder"])
    cases = discover_cases(directory, options.labels_path)
    if not cases:
        raise IngestRefused([f"no files found in {directory}"])
    labels = _read_labels(options.labels_path, cases)
    name = _check_case_set(options.case_set_name)
    report = IngestReport()
    batch = None
    for source_id, files in cases.items():
        prepared = _prepare_case(directory, files, options, report)
        if prepared is None:
            report.not_imported.append(source_id)
            continue
        existing = _existing_case(source_id, prepared, report)
        if existing is False:
            report.not_imported.append(source_id)
        elif existing is not None:
            _add_to_case_set(name, existing)
            report.existing.append((source_id, existing.public_id))
        else:
            batch = batch or _new_batch(directory, options)
            try:
                case = _create_case(batch, source_id, prepared, labels.get(source_id))
            except IntegrityError:
                # Another import stored the same files between our check and our write.
                report.rejected.append((source_id, "imported at the same moment by another import; run again"))
                report.not_imported.append(source_id)
                continue
            except (DatabaseError, OSError) as error:  # rolled back, its stored files removed (_create_case)
                logger.warning("case import: %s could not be stored (%s)", source_id, type(error).__name__)
                report.rejected.append((source_id, f"could not be stored ({type(error).__name__})"))
                report.not_imported.append(source_id)
                continue
            _add_to_case_set(name, case)
            report.created.append((source_id, case.public_id))
    if batch is not None:
        batch.summary = {
            "created": len(report.created),
            "existing": len(report.existing),
            "rejected_files": len(report.rejected),
            "not_imported": len(report.not_imported),
        }
        batch.save(update_fields=["summary"])
    logger.info("case import: %s", report.summary())
    return report


def discover_cases(directory: Path, labels_path=None) -> dict:
    """Source id -> sorted files. Each sub-folder is a case; each loose file is a case of its own.

    Hidden files (.DS_Store and the like) are not case files; the labels file is skipped when it lies here.
    """
    labels_path = Path(labels_path).resolve() if labels_path else None
    cases = {}
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(p for p in entry.rglob("*") if p.is_file() and not _hidden(p, entry))
            if files:
                cases[entry.name] = files
        elif entry.is_file() and entry.resolve() != labels_path:
            cases[entry.name] = [entry]
    return cases


def _hidden(path: Path, root: Path):
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _read_labels(labels_path, cases):
    if not labels_path:
        return {}
    try:
        return read_labels_file(labels_path, set(cases)).truth
    except LabelsFileError as error:
        raise IngestRefused([f"{Path(labels_path).name}: {p}" for p in error.problems]) from None


def _check_case_set(name):
    """The case set's name, if cases may be added to it (it is made with its first case)."""
    name = (name or "").strip()
    if not name:
        raise IngestRefused(["a case set name is required"])
    case_set = CaseSet.objects.filter(name=name).first()
    rule = case_set and case_set_rule(case_set)
    if rule:
        raise IngestRefused([rule])
    return name


def _prepare_case(directory, files, options, report):
    """Inspect and normalise every file of a case; None if any file is rejected."""
    prepared, failed = [], False
    for path in files:
        relative_name = str(path.relative_to(directory))
        try:
            prepared.append(_prepare_image(relative_name, path, options, report))
        except RejectedFile as rejection:
            report.rejected.append((relative_name, str(rejection)))
            failed = True
        except Exception as error:  # every file gets a verdict: a fault in one never stops the import
            logger.warning("case import: %s failed unexpectedly (%s)", relative_name, type(error).__name__)
            report.rejected.append((relative_name, f"could not be read or normalised ({type(error).__name__})"))
            failed = True
    if failed:
        return None
    uids = [p.inspected.sop_instance_uid for p in prepared]
    if len(set(uids)) != len(uids):
        report.rejected.append(
            (
                str(files[0].parent.relative_to(directory)) or files[0].name,
                "two files of the case share a SOP Instance UID",
            )
        )
        return None
    return _frontal_first(prepared)


def _prepare_image(relative_name, path, options, report):
    inspected = inspect_file(path)
    for warning in inspected.warnings:
        report.warnings.append((relative_name, warning))
    names = ", ".join(inspected.identifying)
    if options.deidentify:
        deidentify(inspected.dataset, settings.DEIDENTIFICATION_KEY)
        # The stored copy's UIDs are the keyed ones: re-importing the same file finds the same copy.
        inspected.sop_instance_uid = str(inspected.dataset.SOPInstanceUID)
        if names:
            report.warnings.append((relative_name, f"identifying attributes removed or replaced: {names}"))
    elif inspected.identifying:
        if options.allow_identified:
            report.warnings.append((relative_name, f"identifying attributes kept (--allow-identified): {names}"))
        else:
            raise RejectedFile(
                f"identifying attributes present ({names}); import with --deidentify or --allow-identified"
            )
    data = normalised_bytes(inspected)
    return _PreparedImage(relative_name, inspected, data, sha256_hex(data))


def _frontal_first(prepared):
    # A stable order in which the frontal view (PA/AP) comes first: it is the one the model reads.
    return sorted(prepared, key=lambda p: (p.inspected.view_position.upper() not in ("PA", "AP"), p.relative_name))


def _existing_case(source_id, prepared, report):
    """The case these files were imported as before; None if none was; False (reported) on a conflict."""
    matches = [_stored_image(p) for p in prepared]
    for image, match in zip(prepared, matches):
        if match is not None and (match.sha256, match.sop_instance_uid) != (
            image.sha256,
            image.inspected.sop_instance_uid,
        ):
            report.rejected.append((image.relative_name, "SOP Instance UID already imported with different content"))
            return False
    if all(match is None for match in matches):
        return None
    cases = {match.case_id for match in matches if match is not None}
    whole = (
        None not in matches and len(cases) == 1 and CaseImage.objects.filter(case_id__in=cases).count() == len(prepared)
    )
    if not whole:
        report.rejected.append((source_id, "its files match only part of a case imported before"))
        return False
    return Case.objects.get(pk=cases.pop())


def _stored_image(image):
    return (
        CaseImage.objects.filter(sop_instance_uid=image.inspected.sop_instance_uid).first()
        or CaseImage.objects.filter(sha256=image.sha256).first()
    )


def _new_batch(directory, options):
    return ImportBatch.objects.create(
        created_by=options.user if getattr(options.user, "pk", None) else None,
        source=directory.name,
        deidentified=options.deidentify,
        allow_identified=options.allow_identified,
    )


def _create_case(batch, source_id, prepared, truth):
    """Store the files, then the rows, in one transaction; files this call wrote go if the rows fail."""
    written = []
    try:
        with transaction.atomic():
            case = Case.objects.create(source_id=source_id, import_batch=batch)
            for index, image in enumerate(prepared):
                relative, created = dicom_store.put(image.data, image.sha256)
                if created:
                    written.append(relative)
                CaseImage.objects.create(
                    case=case,
                    index=index,
                    stored_path=relative,
                    sha256=image.sha256,
                    byte_size=len(image.data),
                    **_image_fields(image.inspected),
                )
            if truth:
                _set_ground_truth(case, truth)
            case.refresh_normality()
    except (DatabaseError, OSError):
        for relative in written:
            dicom_store.remove(relative)
        raise
    return case


def _image_fields(inspected):
    spacing = inspected.pixel_spacing or (None, None)
    return {
        "sop_instance_uid": inspected.sop_instance_uid,
        "modality": inspected.modality,
        "rows": inspected.rows,
        "columns": inspected.columns,
        "bits_stored": inspected.bits_stored,
        "photometric_interpretation": inspected.photometric_interpretation,
        "view_position": inspected.view_position,
        "pixel_spacing_row_mm": spacing[0],
        "pixel_spacing_column_mm": spacing[1],
        "window_center": inspected.window_center,
        "window_width": inspected.window_width,
        "original_transfer_syntax_uid": inspected.transfer_syntax_uid,
        "warnings": list(inspected.warnings),
    }


def _set_ground_truth(case, truth):
    labels = {label.slug: label for label in Label.objects.all()}
    # With history rows, so a later correction shows what it changed.
    rows = [GroundTruth(case=case, label=labels[slug], value=value) for slug, value in truth.items()]
    bulk_create_with_history(rows, GroundTruth, default_change_reason="imported from the labels file")


def _add_to_case_set(name, case):
    case_set, _ = CaseSet.objects.get_or_create(name=name)
    if CaseSetMembership.objects.filter(case_set=case_set, case=case).exists():
        return
    last = case_set.memberships.order_by("-position").values_list("position", flat=True).first() or 0
    CaseSetMembership.objects.create(case_set=case_set, case=case, position=last + 1)
