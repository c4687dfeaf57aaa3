import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from csp_registry.keys import key_matches, split_key
from csp_registry.models import ApiKey, Csp
from csp_registry.services import CspConflictError, csp_create_approved, csp_rotate_keys

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


# What csp_create_approved takes when it creates the CSP; the rest is updated after.
_CREATION_FACTS = (
    "scope_of_use",
    "scope_of_use_es",
    "website_url",
    "privacy_policy_url",
    "duns_number",
)
KEY_NAME = "demo_setup"


class Command(BaseCommand):
    help = (
        "For a laptop: a staff login and an approved demo CSP with an API key. Safe to run "
        "again: the key is kept in var/demo-api-key (owner-only) and the same one is printed "
        "while it still works; otherwise a new one is issued and the change said loudly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--key-file",
            default=str(settings.VAR_DIR / "demo-api-key"),
            help="where the demo key is kept between runs (default: var/demo-api-key)",
        )

    def handle(self, *args, key_file, **options):
        self._staff_login()
        path = Path(key_file)
        stored = _read_key(path)
        now = timezone.now()
        with transaction.atomic():
            try:
                csp, created = csp_create_approved(
                    name=DEMO_CSP_NAME,
                    email=DEMO_CSP_EMAIL,
                    now=now,
                    facts={name: DEMO_FACTS[name] for name in _CREATION_FACTS},
                )
            except CspConflictError as exc:
                raise CommandError(str(exc)) from None
            # Also for a demo CSP made before (by an older version): what a customer
            # reads on the affirmation page, word for word, in both languages.
            Csp.objects.filter(pk=csp.pk).update(**DEMO_FACTS)
            kept = stored is not None and _still_works(stored, csp=csp, now=now)
            if not kept:
                _, full_key = csp_rotate_keys(csp=csp, now=now, name=KEY_NAME)
        verb = "Created" if created else "Exists:"
        self.stdout.write(f"{verb} CSP #{csp.pk} {csp} <{csp.contact_email}>, status {csp.status}")
        if kept:
            self.stdout.write(f"API key (the same as last time, kept in {path}):")
            self.stdout.write(stored)
            return
        _write_key(path, full_key)
        if stored is not None:
            why = f"the one in {path} no longer works (revoked, expired or another database)"
        elif not created:
            why = f"the demo CSP's earlier keys are revoked ({path} did not exist)"
        else:
            why = None
        if why:
            self.stdout.write(
                self.style.WARNING(f"*** THE DEMO API KEY CHANGED: {why}. Use the new one. ***")
            )
        self.stdout.write(f"API key (new, kept in {path} for the next run):")
        self.stdout.write(full_key)

    def _staff_login(self):
        users = get_user_model().objects
        if users.filter(username="admin").exists():
            self.stdout.write("Staff login: admin (password printed when it was created)")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", "admin@portal.example", password)
        self.stdout.write(f"Staff login: admin / {password}")


def _read_key(path):
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _still_works(full_key, *, csp, now):
    """Whether ``full_key`` is a live, unrevoked key of ``csp`` (nothing recorded)."""
    prefix = split_key(full_key)
    if prefix is None:
        return False
    api_key = ApiKey.objects.filter(prefix=prefix, csp=csp, sandbox=False).first()
    return (
        api_key is not None and key_matches(full_key, api_key.hashed_key) and api_key.usable_at(now)
    )


def _write_key(path, full_key):
    """Owner-only (0600) from the first byte, replaced whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".new")
    scratch.unlink(missing_ok=True)
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(full_key + "\n")
    os.replace(scratch, path)
