from django.apps import AppConfig


class AffirmationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "affirmations"
    verbose_name = "Agreements and affirmations"

    def ready(self):
        from csp_registry.services import csp_status_changed
        from premises.services import occupants_changed_subscribe
        from smt_portal.calendar import holiday_source_register

        from .holidays import holidays_cache_subscribe, holidays_from_database
        from .lifecycle.endings import agreements_end_for_new_occupants
        from .notifications import customer_notices
        from .receivers import revoke_agreements_of_revoked_csp
        from .transitions import transitions_subscribe

        # The staff-edited holiday calendar joins AFFIRMATION_HOLIDAYS.
        holiday_source_register(holidays_from_database)
        holidays_cache_subscribe()

        transitions_subscribe(customer_notices)
        # A move-in ends the former customer's agreements (B13).
        occupants_changed_subscribe(agreements_end_for_new_occupants)

        csp_status_changed.connect(
            revoke_agreements_of_revoked_csp, dispatch_uid="affirmations.revoke_on_csp_revoked"
        )
