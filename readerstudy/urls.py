from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from readerstudy.views import accounts, analysis, health, people, runs, studies
from readerstudy.views.home import home
from readerstudy.views.ingest import import_cases_view
from readerstudy.views.reading import session_complete, worklist, workstation

admin.site.site_header = "CXR reader study administration"

# Model runs (the inference app's pages), under the "inference" namespace.
run_patterns = [
    path("", runs.run_list, name="runs"),
    path("runs/<int:run_id>/", runs.run_detail, name="run"),
    path("runs/<int:run_id>/progress.json", runs.run_progress_json, name="run-progress"),
    path("runs/<int:run_id>/retry/", runs.run_retry, name="run-retry"),
    path("runs/<int:run_id>/pin/", runs.run_pin, name="run-pin"),
    path("runs/<int:run_id>/metrics.json", runs.run_metrics_export, {"fmt": "json"}, name="run-metrics-json"),
    path("runs/<int:run_id>/metrics.csv", runs.run_metrics_export, {"fmt": "csv"}, name="run-metrics-csv"),
]

urlpatterns = [
    path("", home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
    path(
        "set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/set_password.html", success_url=reverse_lazy("set-password-done")
        ),
        name="password_reset_confirm",
    ),
    path(
        "set-password/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/set_password_done.html"),
        name="set-password-done",
    ),
    path("people/", people.people, name="people"),
    path("people/import/", people.people_import, name="people-import"),
    path("people/<int:pk>/active/", people.people_set_active, name="people-set-active"),
    path("cases/import/", import_cases_view, name="import-cases"),
    path("read/", worklist, name="worklist"),
    path("read/<str:public_id>/", workstation, name="workstation"),
    path("read/sessions/<int:session_id>/complete/", session_complete, name="session-complete"),
    path("studies/<int:pk>/", studies.study_detail, name="study-detail"),
    path("studies/<int:pk>/open/", studies.study_open, name="study-open"),
    path("studies/<int:pk>/close/", studies.study_close, name="study-close"),
    path("studies/<int:pk>/readers/", studies.study_add_readers, name="study-add-readers"),
    path("studies/<int:pk>/case-sets/", studies.study_assign_case_set, name="study-assign-case-set"),
    path("studies/<int:pk>/team/", studies.study_team_add, name="study-team-add"),
    path("studies/<int:pk>/team/<int:user_id>/remove/", studies.study_team_remove, name="study-team-remove"),
    path("studies/<int:pk>/sessions/<int:session_id>/open/", studies.study_open_session, name="study-open-session"),
    path("studies/<int:pk>/export/<str:name>.<str:fmt>", studies.study_export, name="study-export"),
    path("studies/<int:pk>/analysis/", analysis.study_analysis, name="study-analysis"),
    path("studies/<int:pk>/analysis.json", analysis.study_analysis_json, name="study-analysis-json"),
    path("studies/<int:pk>/analysis.html", analysis.study_analysis_report, name="study-analysis-report"),
    path(
        "studies/<int:pk>/analysis/plots/<slug:name>.<str:fmt>",
        analysis.study_analysis_plot,
        name="study-analysis-plot",
    ),
    path("studies/<int:pk>/analysis/recompute/", analysis.study_analysis_recompute, name="study-analysis-recompute"),
    path("api/", include("readerstudy.api.urls")),
    path("inference/", include((run_patterns, "inference"))),
    path("admin/", admin.site.urls),
]
