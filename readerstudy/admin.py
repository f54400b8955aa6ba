"""The Django admin for every model: a fallback for coordinators and admins, never for readers.

History that a study relies on (images, reads, timing events) is read-only here. The protocol rules live on
the models (models/protocol.py); here a running study's protocol, its case sets and its cases' ground truth
show read-only, with the rule, and every change to a study-related model is kept in its history
(django-simple-history) with who made it and why. A study's rows are shown only to those who run the study
(readerstudy/rules.py); to anyone else they do not exist.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from inference.models import StudyOutputPin

from .core.admin_base import ReadOnlyAdmin, ReadOnlyInline
from .core.roles import ADMIN, READER, has_role
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
    ReaderProfile,
    ReadFinding,
    ReadingSession,
    Study,
    StudyCoordinator,
    StudyQuestion,
    StudyReader,
    TimingEvent,
    TraceAnnotation,
    UnaidedRead,
)
from .models.protocol import case_set_rule, case_truth_rule
from .rules import studies_run_by
from .studies.lifecycle import LifecycleRefused, move_assignment, revoke_assignment
from .studies.team import add_to_team
from .studies.truth import CorrectionRefused, correct_ground_truth


class RunByTeamAdmin(admin.ModelAdmin):
    """Rows that belong to a study, for those who run it: lists hold only their studies' rows (study filters
    too), and another team's row answers 404 on every view of it (change, delete, history, a past version)."""

    study_path = "study"  # the lookup from a row to its study; "" for the study itself

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(**{f"{self.study_path}__in" if self.study_path else "pk__in": studies_run_by(request.user)})
        )

    def get_object(self, request, object_id, from_field=None):
        found = super().get_object(request, object_id, from_field)
        if found is None:  # the admin would redirect with "doesn't exist": the same answer, as a 404
            raise Http404("No such row.")
        return found

    def history_view(self, request, object_id, extra_context=None):
        # django-simple-history's history falls back to the rows' past versions: check the row first.
        self.get_object(request, unquote(object_id))
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self.get_object(request, unquote(object_id))
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_list_filter(self, request):
        # The study filter offers only the studies in the list, never another team's title.
        return [
            (entry, admin.RelatedOnlyFieldListFilter) if entry == self.study_path else entry
            for entry in super().get_list_filter(request)
        ]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "vocabulary", "order"]
    list_filter = ["vocabulary"]
    search_fields = ["name", "slug"]


class WhyForm(forms.ModelForm):
    """Every change made here goes to the model's history with a reason."""

    change_reason = forms.CharField(
        required=False, max_length=100, label="Reason for this change", help_text="Kept in the history with your name."
    )


class HistoryAdmin(SimpleHistoryAdmin):
    """A history of every change, with the reason given on the form (inline rows take the same reason)."""

    form = WhyForm

    def save_model(self, request, obj, form, change):
        obj._change_reason = form.cleaned_data.get("change_reason") or "changed in the admin"
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        reason = form.cleaned_data.get("change_reason") or f"changed in the admin with {form.instance}"
        for inline_form in formset.forms:
            inline_form.instance._change_reason = reason
        super().save_formset(request, form, formset, change)


class FrozenWhenRunning:
    """An inline that is read-only while `running_rule(obj)` names a rule that freezes it."""

    def running_rule(self, obj):
        raise NotImplementedError

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not (obj and self.running_rule(obj))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and self.running_rule(obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and self.running_rule(obj))


class GroundTruthInline(FrozenWhenRunning, admin.TabularInline):
    model = GroundTruth
    extra = 0

    def running_rule(self, case):
        return case_truth_rule(case)


class CaseImageInline(ReadOnlyInline):
    model = CaseImage
    fields = [
        "index",
        "view_position",
        "modality",
        "rows",
        "columns",
        "bits_stored",
        "photometric_interpretation",
        "sop_instance_uid",
        "sha256",
    ]
    readonly_fields = fields


class CorrectionForm(forms.Form):
    label = forms.ModelChoiceField(queryset=Label.objects.all(), to_field_name="slug")
    value = forms.ChoiceField(choices=GroundTruth._meta.get_field("value").choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Written to each study's audit log.")


@admin.register(Case)
class CaseAdmin(HistoryAdmin):
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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self.get_object(request, object_id)
        rule = case and case_truth_rule(case)
        if rule and request.method == "GET":
            messages.info(request, rule)
        extra = {"correct_truth_url": reverse("admin:readerstudy_case_correct_truth", args=[case.pk]) if rule else None}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_urls(self):
        return [
            path(
                "<int:case_id>/correct-truth/",
                self.admin_site.admin_view(self.correct_truth),
                name="readerstudy_case_correct_truth",
            )
        ] + super().get_urls()

    def correct_truth(self, request, case_id):
        """The audited correction of a running study's ground truth (admins only)."""
        case = get_object_or_404(Case, pk=case_id)
        if not has_role(request.user, ADMIN):
            return TemplateResponse(
                request,
                "admin/readerstudy/case/correct_truth.html",
                {**self.admin_site.each_context(request), "case": case, "refused": "Only admins correct ground truth."},
                status=403,
            )
        form = CorrectionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                studies = correct_ground_truth(
                    case,
                    form.cleaned_data["label"].slug,
                    form.cleaned_data["value"],
                    request.user,
                    form.cleaned_data["reason"],
                )
            except CorrectionRefused as refused:
                form.add_error(None, str(refused))
            else:
                self.message_user(
                    request,
                    f"Corrected; recorded in the audit log of {len(studies)} study(ies), "
                    "whose analysis will be recomputed.",
                    messages.SUCCESS,
                )
                return redirect("admin:readerstudy_case_change", case.pk)
        return TemplateResponse(
            request,
            "admin/readerstudy/case/correct_truth.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "case": case,
                "form": form,
                "truth": case.ground_truth.select_related("label").order_by("label__order"),
            },
        )


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


class CaseSetMembershipInline(FrozenWhenRunning, admin.TabularInline):
    model = CaseSetMembership
    extra = 0
    raw_id_fields = ["case"]

    def running_rule(self, case_set):
        return case_set_rule(case_set)


@admin.register(CaseSet)
class CaseSetAdmin(HistoryAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name", "description"]
    inlines = [CaseSetMembershipInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case_set = self.get_object(request, object_id)
        if case_set and request.method == "GET" and case_set_rule(case_set):
            messages.info(request, case_set_rule(case_set))
        return super().change_view(request, object_id, form_url, extra_context)


class StudyQuestionInline(admin.TabularInline):
    model = StudyQuestion
    extra = 0


@admin.register(Study)
class StudyAdmin(RunByTeamAdmin, HistoryAdmin):
    list_display = ["title", "status", "case_set", "washout_days", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "description"]
    # A study opens and closes only with Open and Close on its page (their checks and audit entry).
    readonly_fields = ["status", "created_at", "opened_at", "closed_at"]
    inlines = [StudyQuestionInline]
    study_path = ""

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:  # whoever creates a study runs it
            add_to_team(obj, request.user, request.user, "created the study")

    def get_readonly_fields(self, request, obj=None):
        # Once a study opens its protocol is frozen (ARCHITECTURE.md: rules that protect a study).
        if obj is not None and obj.status != Study.Status.DRAFT:
            return [f.name for f in Study._meta.fields]
        # Dry run or real, and whether the abnormality question is asked, are decided when the study is created.
        return self.readonly_fields + (["is_dry_run", "asks_abnormality"] if obj is not None else [])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        study = self.get_object(request, object_id)
        if study and request.method == "GET":
            messages.info(
                request,
                f"The study is {study.status}: "
                + (
                    "open and close it with the buttons on its page, which check it and write the audit log."
                    if study.status == Study.Status.DRAFT
                    else "its protocol, questions, case set and pins are frozen."
                ),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_inlines(self, request, obj):
        if obj is not None and obj.status != Study.Status.DRAFT:
            return [FrozenStudyQuestionInline]
        return self.inlines


class FrozenStudyQuestionInline(ReadOnlyInline):
    model = StudyQuestion
    readonly_fields = (
        "key text scale_min scale_max min_anchor max_anchor arms required allows_not_applicable order".split()
    )


@admin.register(ReaderProfile)
class ReaderProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "years_experience", "subspecialty", "board_certified"]
    list_filter = ["board_certified", "subspecialty"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]


@admin.register(StudyCoordinator)
class StudyCoordinatorAdmin(RunByTeamAdmin, ReadOnlyAdmin):
    list_display = ["study", "user", "added_by", "added_at"]
    list_filter = ["study"]
    search_fields = ["user__username"]


@admin.register(StudyReader)
class StudyReaderAdmin(RunByTeamAdmin, SimpleHistoryAdmin, ReadOnlyAdmin):
    list_display = ["study", "reader_code", "user", "years_experience", "subspecialty", "joined_at"]
    list_filter = ["study"]
    search_fields = ["reader_code", "user__username"]


@admin.register(ReadingSession)
class ReadingSessionAdmin(RunByTeamAdmin, ReadOnlyAdmin):
    list_display = ["study", "reader", "index", "opens_at"]
    list_filter = ["study"]
    search_fields = ["reader__username"]


@admin.register(Assignment)
class AssignmentAdmin(RunByTeamAdmin, SimpleHistoryAdmin, ReadOnlyAdmin):
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
            return TemplateResponse(
                request,
                "admin/readerstudy/assignment/move.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "assignments": queryset,
                    "readers": readers.distinct().order_by("username"),
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                },
            )
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
class ReadAdmin(RunByTeamAdmin, ReadOnlyAdmin):
    study_path = "assignment__study"
    list_display = ["assignment", "submitted_at", "active_ms", "total_ms", "problem_flagged"]
    list_filter = ["assignment__study", "assignment__arm", "problem_flagged"]
    search_fields = ["assignment__public_id", "assignment__reader__username"]
    inlines = [ReadFindingInline, RatingInline]


@admin.register(UnaidedRead)
class UnaidedReadAdmin(RunByTeamAdmin, ReadOnlyAdmin):
    """The first reports of sequential reads: final once committed, so only viewed."""

    study_path = "assignment__study"
    list_display = ["assignment", "committed_at", "findings", "active_ms"]
    list_filter = ["assignment__study", "assignment__arm"]
    search_fields = ["assignment__public_id", "assignment__reader__username"]


@admin.register(TraceAnnotation)
class TraceAnnotationAdmin(RunByTeamAdmin, ReadOnlyAdmin):
    study_path = "read__assignment__study"
    list_display = ["read", "category", "target", "label", "clinically_significant", "quote", "created_at"]
    list_filter = ["category", "target", "clinically_significant", "read__assignment__study"]
    search_fields = ["read__assignment__public_id", "client_uuid", "quote", "comment"]


@admin.register(TimingEvent)
class TimingEventAdmin(RunByTeamAdmin, ReadOnlyAdmin):
    study_path = "assignment__study"
    list_display = ["assignment", "type", "client_ms", "server_at", "page_load_id"]
    list_filter = ["type", "assignment__study"]
    search_fields = ["assignment__public_id", "client_uuid"]


def study_data_of(user):
    """What a user holds in studies, in words (empty if nothing): such users are deactivated, never deleted."""
    held = [
        (user.audit_entries.count(), "audit entries"),
        (user.assignments.count(), "assignments"),
        (user.study_enrolments.count(), "study enrolments"),
    ]
    return ", ".join(f"{count} {what}" for count, what in held if count)


admin.site.unregister(User)


@admin.register(User)
class StudyUserAdmin(UserAdmin):
    def delete_view(self, request, object_id, extra_context=None):
        user = self.get_object(request, object_id)
        held = user and study_data_of(user)
        if held:
            self.message_user(
                request,
                f"{user} holds study data ({held}): users who hold study data are never "
                "deleted. Deactivate the account instead (untick “Active”).",
                messages.ERROR,
            )
            return redirect("admin:auth_user_change", user.pk)
        return super().delete_view(request, object_id, extra_context)


@admin.register(StudyOutputPin)
class StudyOutputPinAdmin(RunByTeamAdmin, ReadOnlyAdmin):
    list_display = ["study", "case", "output", "pinned_by", "pinned_at"]
    list_filter = ["study"]


@admin.register(AuditEntry)
class AuditEntryAdmin(RunByTeamAdmin, ReadOnlyAdmin):
    list_display = ["at", "study", "action", "user", "detail", "reason"]
    list_filter = ["study", "action"]
    search_fields = ["detail", "reason", "user__username"]
