from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from readerstudy.views.home import home
from readerstudy.views.ingest import import_cases_view
from readerstudy.views import studies
from readerstudy.views.reading import worklist, workstation

admin.site.site_header = "CXR reader study administration"

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("cases/import/", import_cases_view, name="import-cases"),
    path("read/", worklist, name="worklist"),
    path("read/<str:public_id>/", workstation, name="workstation"),
    path("studies/<int:pk>/", studies.study_detail, name="study-detail"),
    path("studies/<int:pk>/open/", studies.study_open, name="study-open"),
    path("studies/<int:pk>/close/", studies.study_close, name="study-close"),
    path("studies/<int:pk>/readers/", studies.study_add_readers, name="study-add-readers"),
    path("studies/<int:pk>/sessions/<int:session_id>/open/", studies.study_open_session, name="study-open-session"),
    path("studies/<int:pk>/export/<str:name>.<str:fmt>", studies.study_export, name="study-export"),
    path("api/", include("readerstudy.api.urls")),
    path("inference/", include("inference.urls")),
    path("admin/", admin.site.urls),
]
