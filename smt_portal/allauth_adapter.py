"""django-allauth, fitted to the portal: staff and customers on one sign-in page.

Staff sign in by username, password and (in production) TOTP; their accounts are
made in the admin and have no email address to prove. Customers sign up with an
email address they prove before their first sign-in, then sign in with it and a
password or an emailed code. allauth's emails go through the portal's outbox.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.stages import EmailVerificationStage
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from accounts.auth_services import auth_email_queue
from csp_portal.access import member_of
from smt_portal.client_ip import client_ip

_ALLAUTH_EMAIL_STAGE = "allauth.account.stages.EmailVerificationStage"


class CustomerEmailVerificationStage(EmailVerificationStage):
    """Mandatory email verification, for customers: a staff member signs in by
    username (and TOTP), has no EmailAddress row, and is never stopped here."""

    def handle(self):
        user = self.login.user
        if user is not None and user.is_staff:
            return None, True
        return super().handle()


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Customers sign up (/account/signup/); staff are created in the admin.
        return True

    def get_client_ip(self, request):
        # Rate limits per IP count the client the portal trusts
        # (TRUSTED_PROXY_COUNT), the same address the API's limits use.
        return client_ip(request)

    def get_login_stages(self):
        return [
            f"{__name__}.CustomerEmailVerificationStage" if path == _ALLAUTH_EMAIL_STAGE else path
            for path in super().get_login_stages()
        ]

    def get_login_redirect_url(self, request):
        if request.user.is_staff:
            return reverse("admin:index")
        if member_of(request.user) is not None:
            # A CSP's user: its portal (which first asks for an authenticator app).
            return reverse("csp_portal:home")
        return customer_home_url()

    def get_signup_redirect_url(self, request):
        # Whoever signs up is a customer (staff are made in the admin): after
        # proving the address they land on /account/, not LOGIN_REDIRECT_URL.
        return customer_home_url()

    def send_mail(self, template_prefix, email, context):
        """Queue in the transactional outbox (sent after commit, retried while
        SMTP is down), in the page's language, keys and codes sealed."""
        auth_email_queue(
            template_prefix=template_prefix,
            to=email,
            context=context,
            language=translation.get_language() or "en",
            now=timezone.now(),
        )


def customer_home_url():
    """/account/, the account's dashboard; its email page until the dashboard exists."""
    try:
        return reverse("accounts:dashboard")
    except NoReverseMatch:
        return reverse("account_email")
