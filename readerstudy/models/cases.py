import secrets

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from readerstudy.core.labels import NORMAL_LABEL_SLUGS

from .labels import Label
from .protocol import refuse_case_set_change, refuse_truth_change


def new_case_public_id():
    """Opaque and random: never derived from file contents, UIDs or folder names."""
    return "c" + secrets.token_hex(8)


class ImportBatch(models.Model):
    """One run of the case ingest (command or upload), for provenance."""

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=500, help_text="Folder or archive name (admins only).")
    deidentified = models.BooleanField(default=False)
    allow_identified = models.BooleanField(default=False)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "import batches"
        ordering = ["-created_at"]

    def __str__(self):
        return f"Import {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


class Case(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_case_public_id, editable=False)
    source_id = models.CharField(
        max_length=255, help_text="The id the case was imported under (folder or file name); admins only."
    )
    import_batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="cases")
    reference_report = models.TextField(blank=True)
    # Derived from the ground truth by refresh_normality(); null while no label is known.
    is_abnormal = models.BooleanField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.public_id

    def truth_by_slug(self, vocabulary=None):
        """Every label (of `vocabulary`, if given) with its truth value; labels without a row are unknown."""
        labels = Label.objects.filter(vocabulary=vocabulary) if vocabulary else Label.objects.all()
        known = {t.label.slug: t.value for t in self.ground_truth.select_related("label")}
        return {label.slug: known.get(label.slug, TruthValue.UNKNOWN) for label in labels}

    def refresh_normality(self):
        """Abnormal: any positive label other than No Finding and Support Devices (a line alone is normal);
        unknown (null) while no label is stated positive or negative."""
        truths = list(self.ground_truth.select_related("label"))
        if not any(t.value in (TruthValue.POSITIVE, TruthValue.NEGATIVE) for t in truths):
            self.is_abnormal = None
        else:
            self.is_abnormal = any(
                t.value == TruthValue.POSITIVE and t.label.slug not in NORMAL_LABEL_SLUGS for t in truths
            )
        self.save(update_fields=["is_abnormal"])


class TruthValue(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"
    UNCERTAIN = "uncertain", "Uncertain"
    UNKNOWN = "unknown", "Unknown"
    BLANK = "blank", "Blank in the labels file"  # scored as the study's blank rule says


class GroundTruth(models.Model):
    """The reference standard for one label of one case. Readers never receive it."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="ground_truth")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")
    value = models.CharField(max_length=10, choices=TruthValue.choices)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "ground truth"
        constraints = [
            models.UniqueConstraint(fields=["case", "label"], name="groundtruth_unique_label"),
            models.CheckConstraint(condition=models.Q(value__in=TruthValue.values), name="groundtruth_value_valid"),
        ]

    def __str__(self):
        return f"{self.case}: {self.label} {self.value}"

    def clean(self):
        super().clean()
        if self.case_id:
            refuse_truth_change(self.case)

    def save(self, *args, correcting=False, **kwargs):
        """`correcting`: the audited correction (studies/truth.py), the one way to change a running study's."""
        if not correcting:
            refuse_truth_change(self.case)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        refuse_truth_change(self.case)
        return super().delete(*args, **kwargs)


class Photometric(models.TextChoices):
    MONOCHROME1 = "MONOCHROME1"
    MONOCHROME2 = "MONOCHROME2"


class CaseImage(models.Model):
    """One stored, normalised DICOM file (Explicit VR Little Endian, uncompressed) of a case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="images")
    index = models.PositiveSmallIntegerField(default=0, help_text="Order within the case.")
    sop_instance_uid = models.CharField(max_length=64, unique=True)
    stored_path = models.CharField(max_length=255, help_text="Relative to the DICOM store.")
    sha256 = models.CharField(max_length=64, unique=True)
    byte_size = models.PositiveBigIntegerField()
    modality = models.CharField(max_length=16)
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    bits_stored = models.PositiveSmallIntegerField()
    photometric_interpretation = models.CharField(max_length=16, choices=Photometric.choices)
    view_position = models.CharField(max_length=16, blank=True)
    pixel_spacing_row_mm = models.FloatField(null=True, blank=True)
    pixel_spacing_column_mm = models.FloatField(null=True, blank=True)
    window_center = models.FloatField(null=True, blank=True)
    window_width = models.FloatField(null=True, blank=True)
    original_transfer_syntax_uid = models.CharField(max_length=64)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["case", "index"]
        constraints = [
            models.UniqueConstraint(fields=["case", "index"], name="caseimage_unique_index"),
            models.CheckConstraint(condition=models.Q(rows__gt=0, columns__gt=0), name="caseimage_positive_size"),
            models.CheckConstraint(
                condition=models.Q(bits_stored__gte=8, bits_stored__lte=16), name="caseimage_bits_stored_range"
            ),
            models.CheckConstraint(
                condition=models.Q(photometric_interpretation__in=Photometric.values),
                name="caseimage_photometric_greyscale",
            ),
            models.CheckConstraint(condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"), name="caseimage_sha256_hex"),
        ]

    def __str__(self):
        return f"{self.case} image {self.index} ({self.view_position or self.modality})"

    @property
    def is_frontal(self):
        return self.view_position.upper() in ("PA", "AP")


class CaseSet(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    cases = models.ManyToManyField(Case, through="CaseSetMembership", related_name="case_sets")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def ordered_cases(self):
        return Case.objects.filter(case_set_memberships__case_set=self).order_by("case_set_memberships__position")


class CaseSetMembership(models.Model):
    case_set = models.ForeignKey(CaseSet, on_delete=models.PROTECT, related_name="memberships")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="case_set_memberships")
    position = models.PositiveIntegerField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["case_set", "position"]
        constraints = [
            models.UniqueConstraint(fields=["case_set", "case"], name="casesetmembership_unique_case"),
            models.UniqueConstraint(fields=["case_set", "position"], name="casesetmembership_unique_position"),
        ]

    def __str__(self):
        return f"{self.case_set} #{self.position}: {self.case}"

    def clean(self):
        super().clean()
        if self.case_set_id:
            refuse_case_set_change(self.case_set)

    def save(self, *args, **kwargs):
        refuse_case_set_change(self.case_set)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        refuse_case_set_change(self.case_set)
        return super().delete(*args, **kwargs)
