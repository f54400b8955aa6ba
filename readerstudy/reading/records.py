"""A study's submitted reads as records: what the exports, the analysis and the progress page know of a read,
loaded a page at a time with the same number of queries for ten reads as for ten thousand.

Once per study, when first needed: its labels, its readers' enrolments, each read's previous arm (carry-over),
the pinned outputs (what an AI arm showed). Per page of reads: the reads with their assignment, case, session
and a sequential read's first report (one query), their findings, ratings and annotations (one query each)
and the ground truth of the page's cases not seen before (at most one). Records come in reader, session and
position order.

Which reads the analysis leaves out, and why, is decided here too (`ReadRecord.excluded_because`), so that
the analysis's counts and the progress page's agree.
"""

from dataclasses import dataclass, field
from functools import cached_property

from inference.models import StudyOutputPin
from readerstudy.models import (
    GroundTruth,
    Label,
    Rating,
    Read,
    ReadFinding,
    StudyReader,
    TraceAnnotation,
    TruthValue,
)
from readerstudy.reading.ai_content import labels_shown
from readerstudy.studies.carryover import previous_arms

PAGE_SIZE = 500
# Reads the analysis leaves out, by the first reason that applies: practice cases are never analysed; the
# reader flagged the case as unreadable (non-diagnostic image, technical fault); no active reading time.
EXCLUSIONS = ("practice", "problem_flagged", "zero_active_time")


@dataclass(frozen=True)
class AnnotationRecord:
    label: str | None  # slug of the label it names, if any
    category: str
    clinically_significant: bool


@dataclass(frozen=True)
class FirstReadRecord:
    """A sequential read's first report, committed before the AI output was shown."""

    findings: frozenset  # label slugs
    ratings: dict  # question key -> value
    active_ms: int
    committed_at: object

    @classmethod
    def of(cls, unaided_read):
        if unaided_read is None:
            return None
        return cls(
            frozenset(unaided_read.findings),
            dict(unaided_read.ratings),
            unaided_read.active_ms,
            unaided_read.committed_at,
        )


@dataclass
class ReadRecord:
    read: Read  # with its assignment, case and session
    enrolment: StudyReader | None
    findings: frozenset = frozenset()  # label slugs the reader chose
    ratings: dict = field(default_factory=dict)  # question key -> value (questions answered N/A are not here)
    not_applicable: frozenset = frozenset()  # keys of the questions answered N/A
    annotations: list = field(default_factory=list)  # [AnnotationRecord] in the order recorded
    truth: dict = field(default_factory=dict)  # label slug -> truth value, over the study's vocabulary
    previous_arm: str | None = None  # the arm of the reader's latest earlier reading of the case
    ai_labels: list | None = None  # [{slug, name}] the reader was shown; None: no AI in this reading
    first_read: FirstReadRecord | None = None  # a sequential read's first report, without the AI

    @property
    def aided_active_ms(self):
        """A sequential read's active time after its first report was committed (None: not sequential)."""
        if self.first_read is None:
            return None
        return max(0, self.read.active_ms - self.first_read.active_ms)

    @property
    def assignment(self):
        return self.read.assignment

    @property
    def reader_code(self):
        return self.enrolment.reader_code if self.enrolment else None

    @property
    def excluded_because(self):
        """The first reason in EXCLUSIONS that leaves this read out of the analysis, or None."""
        reasons = {
            "practice": self.assignment.is_practice,
            "problem_flagged": self.read.problem_flagged,
            "zero_active_time": self.read.active_ms == 0,
        }
        return next((reason for reason in EXCLUSIONS if reasons[reason]), None)


class StudyReads:
    """The study's submitted reads. `records()` loads them with their content; `records(content=False)` only
    the reads and their readers (for counts and times)."""

    def __init__(self, study, page_size=PAGE_SIZE):
        self.study = study
        self.page_size = page_size
        self._truths = {}

    def queryset(self):
        return (
            Read.objects.filter(assignment__study=self.study, submitted_at__isnull=False)
            .select_related("assignment__case", "assignment__session", "assignment__unaided_read")
            .order_by("assignment__reader_id", "assignment__session__index", "assignment__position")
        )

    def records(self, content=True):
        for page in _pages(self.queryset(), self.page_size):
            yield from (self._with_content(page) if content else self._plain(page))

    @cached_property
    def labels(self):
        """(slug, name) of the study's vocabulary, in its order."""
        return list(Label.objects.filter(vocabulary=self.study.label_vocabulary).values_list("slug", "name"))

    @cached_property
    def enrolments(self):
        return {e.user_id: e for e in StudyReader.objects.filter(study=self.study)}

    @cached_property
    def previous_arms(self):
        return previous_arms(self.study)

    @cached_property
    def pins(self):
        """{case id: the pinned ModelOutput, with its job}."""
        pins = StudyOutputPin.objects.filter(study=self.study).select_related("output__job")
        return {pin.case_id: pin.output for pin in pins}

    def truths_for(self, case_ids):
        """{case id: {slug: truth value}} over the study's vocabulary, as Case.truth_by_slug gives it: labels
        without a row are unknown. Each case's truth is queried once, however many reads it has."""
        missing = set(case_ids) - set(self._truths)
        if missing:
            slugs = [slug for slug, _ in self.labels]
            known = {case_id: {} for case_id in missing}
            rows = GroundTruth.objects.filter(
                case_id__in=missing, label__vocabulary=self.study.label_vocabulary
            ).values_list("case_id", "label__slug", "value")
            for case_id, slug, value in rows:
                known[case_id][slug] = value
            for case_id, values in known.items():
                self._truths[case_id] = {slug: values.get(slug, TruthValue.UNKNOWN) for slug in slugs}
        return {case_id: self._truths[case_id] for case_id in case_ids}

    def _plain(self, page):
        return [ReadRecord(read, self.enrolments.get(read.assignment.reader_id)) for read in page]

    def _with_content(self, page):
        ids = [read.pk for read in page]
        findings, ratings, not_applicable, annotations = {}, {}, {}, {}
        for read_id, slug in ReadFinding.objects.filter(read_id__in=ids).values_list("read_id", "label__slug"):
            findings.setdefault(read_id, set()).add(slug)
        for read_id, key, value, is_na in Rating.objects.filter(read_id__in=ids).values_list(
            "read_id", "question__key", "value", "not_applicable"
        ):
            if is_na:
                not_applicable.setdefault(read_id, set()).add(key)
            else:
                ratings.setdefault(read_id, {})[key] = value
        for read_id, *annotation in (
            TraceAnnotation.objects.filter(read_id__in=ids)
            .order_by("read_id", "created_at", "pk")
            .values_list("read_id", "label__slug", "category", "clinically_significant")
        ):
            annotations.setdefault(read_id, []).append(AnnotationRecord(*annotation))
        truths = self.truths_for({read.assignment.case_id for read in page})
        names = dict(self.labels)
        return [
            ReadRecord(
                read,
                self.enrolments.get(read.assignment.reader_id),
                findings=frozenset(findings.get(read.pk, ())),
                ratings=ratings.get(read.pk, {}),
                not_applicable=frozenset(not_applicable.get(read.pk, ())),
                annotations=annotations.get(read.pk, []),
                truth=truths[read.assignment.case_id],
                previous_arm=self.previous_arms.get(read.assignment_id),
                ai_labels=labels_shown(read.assignment.arm, self.pins.get(read.assignment.case_id), names),
                first_read=FirstReadRecord.of(getattr(read.assignment, "unaided_read", None)),
            )
            for read in page
        ]


def _pages(queryset, size):
    """The queryset's rows in lists of `size`, streamed from the database (flat memory for any study)."""
    page = []
    for row in queryset.iterator(chunk_size=size):
        page.append(row)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
