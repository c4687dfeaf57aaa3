from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils import timezone

from csp_registry.services import (
    CspConflictError,
    csp_create_approved,
    csp_issue_key,
    csp_rotate_keys,
)


class Command(BaseCommand):
    help = (
        "Create an approved (active) CSP and print its API key once. Idempotent: a CSP "
        "with that contact email and name is reported and gets no new key unless --rotate-key; "
        "an application or another provider with that email is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="legal name of the provider")
        parser.add_argument("--email", required=True, help="contact and notice email")
        parser.add_argument(
            "--scope-of-use", default="", help="how it will use the data, in English"
        )
        parser.add_argument(
            "--scope-of-use-es", default="", help="how it will use the data, in Spanish"
        )
        parser.add_argument("--website", default="", help="its website (https://…)")
        parser.add_argument("--privacy-url", default="", help="its privacy policy (https://…)")
        parser.add_argument("--duns", default="", help="its DUNS number (nine digits)")
        parser.add_argument(
            "--rotate-key",
            action="store_true",
            help="for an existing CSP: revoke all its keys and print a new one",
        )

    def handle(self, *args, name, email, rotate_key, **options):
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an email address") from None
        facts = _facts(options)
        now = timezone.now()
        with transaction.atomic():
            try:
                csp, created = csp_create_approved(name=name, email=email, now=now, facts=facts)
            except CspConflictError as exc:
                raise CommandError(str(exc)) from None
            if created:
                _, full_key = csp_issue_key(csp=csp, now=now, name="create_csp")
            elif rotate_key:
                _, full_key = csp_rotate_keys(csp=csp, now=now, name="create_csp --rotate-key")
            else:
                full_key = None
        self._report(csp, created, full_key)

    def _report(self, csp, created, full_key):
        verb = "Created" if created else "Exists:"
        self.stdout.write(f"{verb} CSP #{csp.pk} {csp} <{csp.contact_email}>, status {csp.status}")
        if not csp.has_scope_of_use:
            self.stdout.write(
                "It cannot start requests until staff add its scope of use in English and "
                "Spanish (admin: CSPs)."
            )
        if full_key is None:
            self.stdout.write("No new key issued (use --rotate-key to replace its keys).")
            return
        self.stdout.write("API key (shown once, store it now):")
        self.stdout.write(full_key)


def _facts(options):
    """The registration facts given, checked; those not given are left out (blank)."""
    facts = {
        "scope_of_use": options["scope_of_use"].strip(),
        "scope_of_use_es": options["scope_of_use_es"].strip(),
        "website_url": options["website"].strip(),
        "privacy_policy_url": options["privacy_url"].strip(),
        "duns_number": "".join(options["duns"].split()).replace("-", ""),
    }
    for key, option in (("website_url", "--website"), ("privacy_policy_url", "--privacy-url")):
        if facts[key]:
            try:
                URLValidator(schemes=["https"])(facts[key])
            except ValidationError:
                raise CommandError(f"{option}: {facts[key]!r} is not an https:// URL") from None
    if facts["duns_number"] and not (
        facts["duns_number"].isdigit() and len(facts["duns_number"]) == 9
    ):
        raise CommandError("--duns: a DUNS number has nine digits")
    return {key: value for key, value in facts.items() if value}
