from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = "Monitoring and enforcement"

    def ready(self):
        from django.db.backends.signals import connection_created

        from affirmations.services import request_guards_subscribe
        from csp_registry.services import csp_status_changed
        from premises.services import authentication_attempts_subscribe

        from .receivers import notify_suspended_csp
        from .services import authentication_attempts_record, spam_cooldown_guard
        from .sql import register_sqlite_functions

        csp_status_changed.connect(
            notify_suspended_csp, dispatch_uid="monitoring.notify_suspended_csp"
        )
        authentication_attempts_subscribe(authentication_attempts_record)
        request_guards_subscribe(spam_cooldown_guard)
        connection_created.connect(
            register_sqlite_functions, dispatch_uid="monitoring.sqlite_functions"
        )
