"""The local simulator's key for `make run`: created once, and kept in step with what sorasim reads from .env."""

import base64
import os
import secrets

from django.db import transaction

from providers.models import ApiKey
from soraweb import envfile

SORASIM_KEY_NAME = "sorasim (local)"


def sorasim_base_url():
    return f"http://127.0.0.1:{os.environ.get('SORASIM_PORT') or 8765}/v1"


def new_webhook_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def seed_sorasim_key(user, stdout, *, env_path=None):
    """Create (once) the key for the Procfile's sorasim and write what sorasim needs into .env.

    The key and .env agree after every run: an existing key keeps its secrets (and .env is corrected to
    them); a fresh database reuses the secrets already in .env, so a running sorasim keeps accepting them.
    """
    env_path = env_path or envfile.ENV_FILE
    env = envfile.read(env_path)
    with transaction.atomic():
        key = ApiKey.objects.filter(name=SORASIM_KEY_NAME).order_by("pk").first()
        created = key is None
        if created:
            # no limits of our own: sorasim's (its --rpm, credit and faults) are the ones to meet, as a real
            # provider's would be; ours would only cap a fresh install at a few renders a minute
            key = ApiKey(name=SORASIM_KEY_NAME, provider="sorasim", has_webhooks=True,
                         can_remix_endpoint=True, can_remix_by_create=True, rpm_limit=0, max_concurrent=0)
            key.secret = env.get("SORASIM_API_KEY") or "sk-sim-" + secrets.token_urlsafe(32)
            key.webhook_secret = env.get("SORASIM_WEBHOOK_SECRET") or new_webhook_secret()
        key.base_url = sorasim_base_url()
        key.save()
    values = {
        "SORASIM_API_KEY": key.secret,
        "SORASIM_WEBHOOK_URL": key.webhook_url,
        "SORASIM_WEBHOOK_SECRET": key.webhook_secret,
    }
    if any(env.get(name) != value for name, value in values.items()):
        envfile.set_values(values, env_path, overwrite=True)
    action = "created" if created else "kept"
    stdout.write(f"sorasim key {action}: {key.name} {key.masked_secret} at {key.base_url}")
    stdout.write(f"sorasim webhooks go to {key.webhook_url}")
    return key
