from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .api import views

urlpatterns = [
    path("reps/", views.RepListView.as_view(), name="api-reps"),
    path(
        "premise-authentications/",
        views.PremiseAuthenticationView.as_view(),
        name="api-premise-authentications",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
