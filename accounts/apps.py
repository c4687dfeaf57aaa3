from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Customer accounts"

    def ready(self):
        from .auth_views import signals_connect

        # allauth's sign-up, email change, sign-out, password reset → AccountEvents.
        signals_connect()
