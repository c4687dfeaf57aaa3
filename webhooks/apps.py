from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        # Every event a service emits queues its deliveries in the same transaction.
        from csp_registry.events import events_subscribe

        from .services import deliveries_queue

        events_subscribe(deliveries_queue)
