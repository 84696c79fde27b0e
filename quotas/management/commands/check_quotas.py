"""Verify the quota books: exit 0 when every counter equals the ledger, else print each difference and exit 1."""

from django.core.management.base import BaseCommand, CommandError

from quotas.balance import imbalances


class Command(BaseCommand):
    help = "Verify that every user's and project's quota counters equal the sums of the quota ledger."

    def handle(self, *args, **options):
        problems, checked = imbalances()
        summary = ", ".join(f"{count} {what}" for what, count in checked.items())
        if problems:
            for problem in problems:
                self.stdout.write(f"MISMATCH {problem}")
            raise CommandError(f"The quota books do not balance: {len(problems)} difference(s) in {summary}.")
        self.stdout.write(self.style.SUCCESS(f"The quota books balance: {summary} checked."))
