from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """The Django admin, served by ``PortalAdminSite`` (staff sign in through allauth)."""

    default_site = "smt_portal.admin_site.PortalAdminSite"
