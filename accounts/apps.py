from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Customer accounts"

    def ready(self):
        from premises.services import occupants_changed_subscribe

        from .services import links_close_for_new_occupants

        # A move-in closes the former occupant's premise link (same transaction).
        occupants_changed_subscribe(links_close_for_new_occupants)

        from .auth_views import signals_connect

        # allauth's sign-up, email change, sign-out, password reset → AccountEvents.
        signals_connect()
