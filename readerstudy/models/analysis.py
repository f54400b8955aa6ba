from django.db import models

from readerstudy.core.leases import Leased

from .studies import Study


class StudyAnalysis(Leased):
    """A study's cached analysis (mixed models are computed in a task, never per page view).

    Every change to the reads bumps `requested_version`; the task computes until `computed_version` has caught
    up, holding the row's lease (core.leases) while it computes. The result is derived data: it is rebuilt from
    the reads, so it may go with its study.
    """

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="analysis")
    requested_version = models.PositiveIntegerField(default=0)
    computed_version = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When a computation was last sent.")
    computed_at = models.DateTimeField(null=True, blank=True)
    data_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the data analysed.")
    cache_key = models.CharField(max_length=64, blank=True, help_text="The data hash and the software versions.")
    result = models.JSONField(null=True, blank=True)
    report_html = models.TextField(blank=True, help_text="The self-contained report, plots embedded.")
    error = models.TextField(blank=True, help_text="Why the last computation failed, if it did.")

    class Meta:
        verbose_name_plural = "study analyses"

    def __str__(self):
        return f"Analysis of {self.study}"

    @property
    def is_current(self):
        """A result of the reads as they are now (a failed computation leaves the last result, not current)."""
        return self.result is not None and not self.error and self.computed_version >= self.requested_version


class AnalysisPlot(models.Model):
    """One figure of the analysis, in both formats."""

    analysis = models.ForeignKey(StudyAnalysis, on_delete=models.CASCADE, related_name="plots")
    name = models.SlugField(max_length=60)
    title = models.CharField(max_length=200)
    svg = models.TextField()
    png = models.BinaryField()
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["analysis", "order"]
        constraints = [models.UniqueConstraint(fields=["analysis", "name"], name="analysisplot_unique_name")]

    def __str__(self):
        return self.title
