from django.conf import settings
from django.db import models

from .append_only import AppendOnlyModel
from .studies import Study


class AuditAction(models.TextChoices):
    OPENED = "opened", "Study opened"
    CLOSED = "closed", "Study closed"
    READERS_ADDED = "readers_added", "Readers added to the running study"
    SESSION_OPENED_EARLY = "session_opened_early", "Session opened before its washout ended"
    EXPORTED = "exported", "Data exported"
    ASSIGNMENT_MOVED = "assignment_moved", "Assignment moved to another reader"
    ASSIGNMENT_REVOKED = "assignment_revoked", "Assignment revoked"
    TRUTH_CORRECTED = "truth_corrected", "Ground truth corrected"
    TEAM_JOINED = "team_joined", "Coordinator added to the study's team"
    TEAM_LEFT = "team_left", "Coordinator removed from the study's team"


class AuditEntry(AppendOnlyModel):
    """What a coordinator or admin changed in a study once it was running, and every change to its team.
    Append-only, in the database too (a trigger refuses UPDATE, DELETE and TRUNCATE); the actor's username is
    kept as it was, and a user with audit entries cannot be deleted (deactivate them instead)."""

    Action = AuditAction

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="audit_entries")
    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    username = models.CharField(max_length=150, blank=True, help_text="The actor's username when it was written.")
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    detail = models.TextField(help_text="What changed, in words.")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["study", "-at", "-id"]
        verbose_name_plural = "audit entries"
        constraints = [
            models.CheckConstraint(condition=models.Q(action__in=AuditAction.values), name="auditentry_action_valid"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}"

    def save(self, *args, **kwargs):
        if self._state.adding and self.user_id and not self.username:
            self.username = self.user.get_username()
        super().save(*args, **kwargs)
