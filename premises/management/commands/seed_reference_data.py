from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import module_has_submodule

SEED_MODULE = "seed"
SEED_FUNCTION = "seed_reference_data"


class Command(BaseCommand):
    help = (
        "Load the reference data the portal needs: TDUs and retail electric providers "
        "(upserted from premises/data/*.csv, never deleted), the default term policy, and "
        "whatever else an app contributes. Every installed app may define "
        f"{SEED_MODULE}.{SEED_FUNCTION}(stdout); they run in INSTALLED_APPS order, all in one "
        "transaction. Safe to run again: it prints what it created and updated."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            for app_config, seeder in seeders():
                self.stdout.write(self.style.MIGRATE_HEADING(f"{app_config.label}:"))
                seeder(stdout=self.stdout)


def seeders():
    """(app config, seed function) of every installed app that has one."""
    found = []
    for app_config in apps.get_app_configs():
        if not module_has_submodule(app_config.module, SEED_MODULE):
            continue
        module = import_module(f"{app_config.name}.{SEED_MODULE}")
        seeder = getattr(module, SEED_FUNCTION, None)
        if callable(seeder):
            found.append((app_config, seeder))
    return found
