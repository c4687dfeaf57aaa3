from django.apps import AppConfig


class CspPortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "csp_portal"
    verbose_name = "CSP portal"

    def ready(self):
        from allauth.account.signals import user_logged_in

        from csp_registry.services import csp_approved_subscribe

        from .people_services import csp_first_admin_invite
        from .people_views import on_user_logged_in

        # On approval (same transaction) the applicant's contact is invited as first admin.
        csp_approved_subscribe(csp_first_admin_invite)
        # Every sign-in of a member is recorded (CspPortalEvent "signed_in").
        user_logged_in.connect(on_user_logged_in, dispatch_uid="csp_portal.signed_in")
