from django.apps import AppConfig


class DataAccessConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "data_access"
    verbose_name = "Meter data access"

    def ready(self):
        # Every import or generation run that wrote days announces them to the CSPs
        # that may read them, once per agreement (the sweep takes what a crash left).
        from premises.services import interval_writes_subscribe

        from .services import data_available_emit

        interval_writes_subscribe(data_available_emit)
