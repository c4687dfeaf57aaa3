from django.core.management.base import BaseCommand, CommandError

from affirmations.records import records_verify


class Command(BaseCommand):
    help = (
        "Check the record (R13): every chain's rows must follow each other without gaps and "
        "match their hashes and head, and every signed checkpoint in RECORD_CHECKPOINT_FILE "
        "(the copy outside the database) must still hold. Exits non-zero naming, per chain, "
        "each truncation, deletion, rewrite, tampered checkpoint or disabled trigger."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint-file",
            help="Read the checkpoints from this file (default: RECORD_CHECKPOINT_FILE).",
        )

    def handle(self, *args, **options):
        check = records_verify(checkpoint_file=options.get("checkpoint_file"))
        if not check.intact:
            lines = [f"Record broken: {len(check.problems)} problems."]
            lines += [f"- {p.message}" for p in check.problems]
            lines.append(f"({check.checked} records in {check.chains} chains read.)")
            raise CommandError("\n".join(lines))
        self.stdout.write(
            self.style.SUCCESS(
                f"Record intact: {check.checked} records in {check.chains} chains, "
                f"{check.checkpoints} signed checkpoints hold."
            )
        )
