import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from csp_registry.models import Csp

DEMO_CSP_NAME = "Demo Energy Advisors LLC"
DEMO_CSP_EMAIL = "api@demo-energy-advisors.example"
DEMO_SCOPE_OF_USE = (
    "We read your 15-minute and monthly usage to recommend an electricity plan and, if you "
    "ask, a solar or battery size for your home. We do not sell or share your data, and we "
    "delete it when the sharing ends."
)


class Command(BaseCommand):
    help = (
        "For a laptop: a staff login and an approved demo CSP with a fresh API key. "
        "Safe to run again."
    )

    def handle(self, *args, **options):
        self._staff_login()
        call_command(
            "create_csp",
            name=DEMO_CSP_NAME,
            email=DEMO_CSP_EMAIL,
            rotate_key=True,
            stdout=self.stdout,
        )
        # What a customer reads on the affirmation page, word for word.
        Csp.objects.filter(contact_email=DEMO_CSP_EMAIL).update(scope_of_use=DEMO_SCOPE_OF_USE)

    def _staff_login(self):
        users = get_user_model().objects
        if users.filter(username="admin").exists():
            self.stdout.write("Staff login: admin (password printed when it was created)")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", "admin@portal.example", password)
        self.stdout.write(f"Staff login: admin / {password}")
