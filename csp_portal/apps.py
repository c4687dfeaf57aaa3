from django.apps import AppConfig


class CspPortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "csp_portal"
    verbose_name = "CSP portal"
