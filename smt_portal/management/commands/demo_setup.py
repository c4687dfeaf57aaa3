import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db.models import Max

from premises.models import Premise

DEMO_CSP_NAME = "Demo Energy Advisors LLC"
DEMO_CSP_EMAIL = "api@demo-energy-advisors.example"


class Command(BaseCommand):
    help = (
        "For a laptop: a staff login, an approved demo CSP with a fresh API key, "
        "and a few demo premises to try the API with. Safe to run again."
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
        self._sample_premises()

    def _staff_login(self):
        users = get_user_model().objects
        if users.filter(username="admin").exists():
            self.stdout.write("Staff login: admin (password printed when it was created)")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", "admin@portal.example", password)
        self.stdout.write(f"Staff login: admin / {password}")

    def _sample_premises(self):
        self.stdout.write("Demo premises (ESI ID / meter number / ROR certificate number):")
        residential = Premise.objects.filter(customer_class="residential").order_by("id")[:3]
        large = (
            Premise.objects.filter(customer_class="commercial")
            .annotate(peak=Max("monthly_usage__kwh"))
            .filter(peak__gte=15000)
            .order_by("id")[:2]
        )
        for premise, label in [(p, "residential") for p in residential] + [
            (p, "commercial, large") for p in large
        ]:
            meter = premise.meters.filter(removed_on__isnull=True).first()
            self.stdout.write(
                f"  {premise.esi_id} / {meter.number if meter else '-'} / "
                f"{premise.rep_of_record.certificate_number}   ({label})"
            )
