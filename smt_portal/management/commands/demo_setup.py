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
DEMO_SCOPE_OF_USE_ES = (
    "Leemos su consumo en intervalos de 15 minutos y su consumo mensual para recomendarle un "
    "plan de electricidad y, si usted lo pide, el tamaño de paneles solares o de una batería "
    "para su casa. No vendemos ni compartimos sus datos, y los borramos cuando termina el "
    "intercambio."
)
# The registration facts a customer may check: realistic, and never a placeholder.
DEMO_FACTS = {
    "scope_of_use": DEMO_SCOPE_OF_USE,
    "scope_of_use_es": DEMO_SCOPE_OF_USE_ES,
    "website_url": "https://demo-energy-advisors.example/",
    "privacy_policy_url": "https://demo-energy-advisors.example/privacy",
    "duns_number": "081466849",
    "contact_name": "Maria Delgado",
    "contact_phone": "+1 512 555 0187",
    "mailing_address": "600 Congress Ave, Suite 1400, Austin, TX 78701",
}


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
            scope_of_use=DEMO_SCOPE_OF_USE,
            scope_of_use_es=DEMO_SCOPE_OF_USE_ES,
            website=DEMO_FACTS["website_url"],
            privacy_url=DEMO_FACTS["privacy_policy_url"],
            duns=DEMO_FACTS["duns_number"],
            rotate_key=True,
            stdout=self.stdout,
        )
        # Also for a demo CSP made before (by an older version): what a customer
        # reads on the affirmation page, word for word, in both languages.
        Csp.objects.filter(contact_email=DEMO_CSP_EMAIL).update(**DEMO_FACTS)

    def _staff_login(self):
        users = get_user_model().objects
        if users.filter(username="admin").exists():
            self.stdout.write("Staff login: admin (password printed when it was created)")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", "admin@portal.example", password)
        self.stdout.write(f"Staff login: admin / {password}")
