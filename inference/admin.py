from django.contrib import admin

from readerstudy.core.admin_base import ReadOnlyAdmin

from .models import InferenceJob, InferenceRun, ModelConfiguration, ModelOutput, WorkerHeartbeat


@admin.register(ModelConfiguration)
class ModelConfigurationAdmin(admin.ModelAdmin):
    list_display = ["name", "engine", "model_id", "revision", "created_at"]
    list_filter = ["engine"]
    search_fields = ["name", "model_id"]

    def get_readonly_fields(self, request, obj=None):
        # A configuration that has run is provenance: change it by making a new one.
        if obj is not None and obj.jobs.exists():
            return [f.name for f in ModelConfiguration._meta.fields]
        return []


@admin.register(InferenceRun)
class InferenceRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "configuration", "case_set", "created_by", "created_at"]
    list_filter = ["configuration__engine"]


@admin.register(InferenceJob)
class InferenceJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "run", "case", "status", "attempts", "worker_host", "generation_s", "tokens_out"]
    list_filter = ["status", "configuration__engine"]
    search_fields = ["case__public_id", "error"]


@admin.register(ModelOutput)
class ModelOutputAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "engine", "model_id", "parse_status", "labels", "created_at"]
    list_filter = ["engine", "parse_status"]
    search_fields = ["case__public_id", "model_id"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "pid", "engine_key", "model_loads", "jobs_done", "last_seen"]
