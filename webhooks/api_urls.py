from django.urls import path

from .api import views

urlpatterns = [
    path("webhook-endpoints/", views.WebhookEndpointsView.as_view(), name="api-webhook-endpoints"),
    path(
        "webhook-endpoints/<int:endpoint_id>/",
        views.WebhookEndpointView.as_view(),
        name="api-webhook-endpoint",
    ),
    path(
        "webhook-endpoints/<int:endpoint_id>/deliveries/",
        views.WebhookDeliveriesView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhook-endpoints/<int:endpoint_id>/deliveries/<int:delivery_id>/resend/",
        views.WebhookDeliveryResendView.as_view(),
        name="api-webhook-delivery-resend",
    ),
    path("events/", views.EventFeedView.as_view(), name="api-events"),
]
