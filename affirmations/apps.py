from django.apps import AppConfig


class AffirmationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "affirmations"
    verbose_name = "Agreements and affirmations"
