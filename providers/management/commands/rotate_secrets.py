"""Re-encrypt every stored provider secret with the newest FIELD_ENCRYPTION_KEYS key.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run this command,
then remove the old keys. Safe to re-run and to run while workers use the keys.
"""

from django.core.management.base import BaseCommand, CommandError

from providers import crypto
from providers.models import ApiKey

FIELDS = ("secret_encrypted", "webhook_secret_encrypted")


class Command(BaseCommand):
    help = "Re-encrypt every provider secret with the newest key in FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        rotated = current = 0
        unreadable = []
        for row in ApiKey.objects.values("pk", "name", *FIELDS).iterator():
            for field in FIELDS:
                token = row[field]
                if not token:
                    continue
                if crypto.is_current(token):
                    current += 1
                    continue
                try:
                    new_token = crypto.rotate(token)
                except ValueError:
                    unreadable.append(f"{row['name']} (id {row['pk']}) {field.removesuffix('_encrypted')}")
                    continue
                # conditional: a secret replaced meanwhile (by an admin) is left alone, it is already new
                rotated += ApiKey.objects.filter(pk=row["pk"], **{field: token}).update(**{field: new_token})
        self.stdout.write(f"{rotated} secrets re-encrypted with the newest key, {current} already current.")
        if unreadable:
            raise CommandError(
                "no key in FIELD_ENCRYPTION_KEYS decrypts: " + ", ".join(unreadable) + ". Keep the old key listed."
            )
