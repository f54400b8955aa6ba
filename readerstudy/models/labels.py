from django.db import models

from readerstudy.core.labels import CHEXPERT_VOCABULARY


class Label(models.Model):
    """A finding a reader or the model can report, in a named vocabulary (seeded with CheXpert's 14)."""

    vocabulary = models.SlugField(max_length=40, default=CHEXPERT_VOCABULARY)
    slug = models.SlugField(max_length=60, help_text="Stable id: lowercase words joined by hyphens.")
    name = models.CharField(max_length=80)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["vocabulary", "order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["vocabulary", "slug"], name="label_unique_slug"),
            models.UniqueConstraint(fields=["vocabulary", "name"], name="label_unique_name"),
            models.CheckConstraint(
                condition=models.Q(slug__regex=r"^[a-z0-9]+(-[a-z0-9]+)*$"), name="label_slug_format"
            ),
        ]

    def __str__(self):
        return self.name
