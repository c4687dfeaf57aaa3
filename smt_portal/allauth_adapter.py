"""django-allauth, fitted to the portal: staff sign-in only, for now."""

from allauth.account.adapter import DefaultAccountAdapter

from smt_portal.client_ip import client_ip


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Customer accounts and the CSP portal come later; staff are created
        # in the admin or by manage.py.
        return False

    def get_client_ip(self, request):
        # Rate limits per IP count the client the portal trusts
        # (TRUSTED_PROXY_COUNT), the same address the API's limits use.
        return client_ip(request)
