from django.core.management.base import BaseCommand, CommandError

from affirmations.records import records_verify


class Command(BaseCommand):
    help = (
        "Check the hash chain of the record (R13): every row must follow the one before it "
        "and match its own hash. Exits non-zero naming the first broken row."
    )

    def handle(self, *args, **options):
        check = records_verify()
        if not check.intact:
            row = (
                "the chain head"
                if check.first_broken_id == -1
                else f"record #{check.first_broken_id}"
            )
            raise CommandError(
                f"Record chain broken at {row}: {check.problem} "
                f"({check.checked} records verified before it)."
            )
        self.stdout.write(self.style.SUCCESS(f"Record chain intact: {check.checked} records."))
