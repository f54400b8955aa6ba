"""The Django admin for every model: a fallback for coordinators and admins, never for readers.

History that a study relies on (images, reads, timing events) is read-only here.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.template.response import TemplateResponse

from .models import (
    Assignment,
    AuditEntry,
    Case,
    CaseImage,
    CaseSet,
    CaseSetMembership,
    GroundTruth,
    ImportBatch,
    Label,
    Rating,
    Read,
    ReadFinding,
    ReaderProfile,
    ReadingSession,
    Study,
    StudyQuestion,
    StudyReader,
    TimingEvent,
    TraceAnnotation,
)
from .roles import ADMIN, READER, has_role
from .services.lifecycle import LifecycleRefused, move_assignment, revoke_assignment


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that record what happened: viewable, never edited or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "vocabulary", "order"]
    list_filter = ["vocabulary"]
    search_fields = ["name", "slug"]


class GroundTruthInline(admin.TabularInline):
    model = GroundTruth
    extra = 0


class CaseImageInline(ReadOnlyInline):
    model = CaseImage
    fields = ["index", "view_position", "modality", "rows", "columns", "bits_stored", "photometric_interpretation",
              "sop_instance_uid", "sha256"]
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["public_id", "source_id", "is_abnormal", "import_batch", "created_at"]
    list_filter = ["is_abnormal", "import_batch", "case_sets"]
    search_fields = ["public_id", "source_id", "images__sop_instance_uid"]
    readonly_fields = ["public_id", "is_abnormal", "import_batch", "created_at"]
    inlines = [GroundTruthInline, CaseImageInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.refresh_normality()

    def has_add_permission(self, request):
        # Cases come in through the ingest (command or upload page), which validates and stores the files.
        return False


@admin.register(CaseImage)
class CaseImageAdmin(ReadOnlyAdmin):
    list_display = ["case", "index", "view_position", "modality", "rows", "columns", "photometric_interpretation"]
    list_filter = ["modality", "photometric_interpretation", "view_position"]
    search_fields = ["case__public_id", "case__source_id", "sop_instance_uid", "sha256"]


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "created_by", "source", "deidentified", "allow_identified"]
    list_filter = ["deidentified", "allow_identified"]
    search_fields = ["source"]


class CaseSetMembershipInline(admin.TabularInline):
    model = CaseSetMembership
    extra = 0
    raw_id_fields = ["case"]


@admin.register(CaseSet)
class CaseSetAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name", "description"]
    inlines = [CaseSetMembershipInline]


class StudyQuestionInline(admin.TabularInline):
    model = StudyQuestion
    extra = 0


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "case_set", "washout_days", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "description"]
    readonly_fields = ["created_at", "opened_at", "closed_at"]
    inlines = [StudyQuestionInline]

    def get_readonly_fields(self, request, obj=None):
        # Once a study opens its protocol is frozen (DESIGN.md §4).
        if obj is not None and obj.status != Study.Status.DRAFT:
            return [f.name for f in Study._meta.fields]
        # Dry run or real, and whether the abnormality question is asked, are decided when the study is created.
        return self.readonly_fields + (["is_dry_run", "asks_abnormality"] if obj is not None else [])

    def get_inlines(self, request, obj):
        if obj is not None and obj.status != Study.Status.DRAFT:
            return [FrozenStudyQuestionInline]
        return self.inlines


class FrozenStudyQuestionInline(ReadOnlyInline):
    model = StudyQuestion
    readonly_fields = ["key", "text", "scale_min", "scale_max", "min_anchor", "max_anchor", "arms", "required",
                       "order"]


@admin.register(ReaderProfile)
class ReaderProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "years_experience", "subspecialty", "board_certified"]
    list_filter = ["board_certified", "subspecialty"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]


@admin.register(StudyReader)
class StudyReaderAdmin(ReadOnlyAdmin):
    list_display = ["study", "reader_code", "user", "years_experience", "subspecialty", "joined_at"]
    list_filter = ["study"]
    search_fields = ["reader_code", "user__username"]


@admin.register(ReadingSession)
class ReadingSessionAdmin(ReadOnlyAdmin):
    list_display = ["study", "reader", "index", "opens_at"]
    list_filter = ["study"]
    search_fields = ["reader__username"]


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    """Read-only, except that admins may revoke or move assignments nobody has opened (both audited)."""

    list_display = ["public_id", "study", "reader", "case", "arm", "session", "position", "status", "is_practice"]
    list_filter = ["study", "arm", "status", "is_practice"]
    search_fields = ["public_id", "reader__username", "case__public_id"]
    actions = ["revoke", "move"]

    def has_manage_permission(self, request):
        return has_role(request.user, ADMIN)

    @admin.action(description="Revoke the selected assignments (only those not opened)", permissions=["manage"])
    def revoke(self, request, queryset):
        self._each(request, queryset, lambda a: revoke_assignment(a, request.user, "revoked in the admin"))

    @admin.action(description="Move the selected assignments to another reader", permissions=["manage"])
    def move(self, request, queryset):
        to_reader = User.objects.filter(pk=request.POST.get("to_reader") or None, groups__name=READER).first()
        if to_reader is None:
            readers = User.objects.filter(groups__name=READER, reading_sessions__study__in=queryset.values("study"))
            return TemplateResponse(request, "admin/readerstudy/assignment/move.html", {
                **self.admin_site.each_context(request), "opts": self.model._meta, "assignments": queryset,
                "readers": readers.distinct().order_by("username"),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)})
        reason = request.POST.get("reason", "")
        self._each(request, queryset, lambda a: move_assignment(a, to_reader, request.user, reason))

    def _each(self, request, queryset, change):
        done = 0
        for assignment in queryset:
            try:
                change(assignment)
                done += 1
            except LifecycleRefused as refused:
                self.message_user(request, str(refused), messages.ERROR)
        if done:
            self.message_user(request, f"{done} assignment(s) changed; see the study's audit log.", messages.SUCCESS)


class ReadFindingInline(ReadOnlyInline):
    model = ReadFinding


class RatingInline(ReadOnlyInline):
    model = Rating


@admin.register(Read)
class ReadAdmin(ReadOnlyAdmin):
    list_display = ["assignment", "submitted_at", "active_ms", "total_ms", "problem_flagged"]
    list_filter = ["assignment__study", "assignment__arm", "problem_flagged"]
    search_fields = ["assignment__public_id", "assignment__reader__username"]
    inlines = [ReadFindingInline, RatingInline]


@admin.register(TraceAnnotation)
class TraceAnnotationAdmin(ReadOnlyAdmin):
    list_display = ["read", "category", "target", "label", "clinically_significant", "quote", "created_at"]
    list_filter = ["category", "target", "clinically_significant", "read__assignment__study"]
    search_fields = ["read__assignment__public_id", "client_uuid", "quote", "comment"]


@admin.register(TimingEvent)
class TimingEventAdmin(ReadOnlyAdmin):
    list_display = ["assignment", "type", "client_ms", "server_at", "page_load_id"]
    list_filter = ["type", "assignment__study"]
    search_fields = ["assignment__public_id", "client_uuid"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "study", "action", "user", "detail", "reason"]
    list_filter = ["study", "action"]
    search_fields = ["detail", "reason", "user__username"]
