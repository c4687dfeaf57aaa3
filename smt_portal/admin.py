"""Admin screens of libraries the portal installs, held to the portal's rule:
every action declares the permission it needs (``tests/smt_portal/test_roles.py``).

Runs after the libraries' own ``admin.py`` (``smt_portal`` comes after them in
``INSTALLED_APPS``), so it can replace their registrations.
"""

from django.apps import apps
from django.contrib import admin

if apps.is_installed("allauth.account"):
    from allauth.account.admin import EmailAddressAdmin
    from allauth.account.models import EmailAddress

    class PortalEmailAddressAdmin(EmailAddressAdmin):
        # allauth's action declares no permission: whoever may list addresses could verify one.
        @admin.action(
            description="Mark selected email addresses as verified", permissions=["change"]
        )
        def make_verified(self, request, queryset):
            return super().make_verified(request, queryset)

    if admin.site.is_registered(EmailAddress):
        admin.site.unregister(EmailAddress)
        admin.site.register(EmailAddress, PortalEmailAddressAdmin)
