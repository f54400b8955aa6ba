from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from readerstudy.views.home import home
from readerstudy.views.ingest import import_cases_view
from readerstudy.views.reading import worklist, workstation

admin.site.site_header = "CXR reader study administration"

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("cases/import/", import_cases_view, name="import-cases"),
    path("read/", worklist, name="worklist"),
    path("read/<str:public_id>/", workstation, name="workstation"),
    path("api/", include("readerstudy.api.urls")),
    path("inference/", include("inference.urls")),
    path("admin/", admin.site.urls),
]
