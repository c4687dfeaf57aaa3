from django.apps import AppConfig


class CspRegistryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "csp_registry"
    verbose_name = "Competitive service providers"
