from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import reading

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("assignments/", reading.AssignmentList.as_view(), name="api-assignments"),
    path("assignments/<str:public_id>/", reading.AssignmentDetailView.as_view(), name="api-assignment"),
    path("assignments/<str:public_id>/ai/", reading.AssignmentAIContent.as_view(), name="api-ai"),
    path("assignments/<str:public_id>/events/", reading.AssignmentEvents.as_view(), name="api-events"),
    path("assignments/<str:public_id>/draft/", reading.AssignmentDraft.as_view(), name="api-draft"),
    path("assignments/<str:public_id>/unaided/", reading.AssignmentFirstRead.as_view(), name="api-unaided"),
    path("assignments/<str:public_id>/submit/", reading.AssignmentSubmit.as_view(), name="api-submit"),
    path("assignments/<str:public_id>/annotations/", reading.AnnotationList.as_view(), name="api-annotations"),
    path(
        "assignments/<str:public_id>/annotations/<uuid:annotation_id>/",
        reading.AnnotationDetail.as_view(),
        name="api-annotation",
    ),
    path("assignments/<str:public_id>/images/<int:position>/", reading.AssignmentImage.as_view(), name="api-image"),
]
