from django.apps import AppConfig


class SmtPortalConfig(AppConfig):
    name = "smt_portal"
    verbose_name = "Portal"
