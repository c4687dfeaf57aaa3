"""What the two feed commands share: the file argument and how a refusal reads."""

from argparse import ArgumentTypeError
from datetime import date
from pathlib import Path

from django.core.management.base import CommandError

from premises.feeds import FeedRejected


def existing_file(value):
    path = Path(value)
    if not path.is_file():
        raise ArgumentTypeError(f"{value}: no such file")
    return path


def iso_date(value):
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def run_feed(command, path, importer):
    """Run ``importer()``; on refusal print each bad line to stderr and fail."""
    try:
        return importer()
    except FeedRejected as rejected:
        for line, reason in rejected.problems:
            command.stderr.write(f"line {line}: {reason}" if line else reason)
        raise CommandError(f"{path}: {rejected}") from None
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or exc}") from None
