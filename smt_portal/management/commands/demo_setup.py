import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_CSP_NAME = "Demo Energy Advisors LLC"
DEMO_CSP_EMAIL = "api@demo-energy-advisors.example"


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

    def _staff_login(self):
        users = get_user_model().objects
        if users.filter(username="admin").exists():
            self.stdout.write("Staff login: admin (password printed when it was created)")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", "admin@portal.example", password)
        self.stdout.write(f"Staff login: admin / {password}")
