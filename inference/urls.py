from django.urls import path

from . import views

app_name = "inference"

urlpatterns = [
    path("", views.run_list, name="runs"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress.json", views.run_progress_json, name="run-progress"),
    path("runs/<int:run_id>/retry/", views.run_retry, name="run-retry"),
    path("runs/<int:run_id>/pin/", views.run_pin, name="run-pin"),
    path("runs/<int:run_id>/metrics.json", views.run_metrics_export, {"fmt": "json"}, name="run-metrics-json"),
    path("runs/<int:run_id>/metrics.csv", views.run_metrics_export, {"fmt": "csv"}, name="run-metrics-csv"),
]
