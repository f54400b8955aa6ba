from django.db import models


class AppendOnlyModel(models.Model):
    """Rows that record what happened: written once, never changed or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError(f"{str(self._meta.verbose_name_plural).capitalize()} are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{str(self._meta.verbose_name_plural).capitalize()} are append-only.")
