"""Seed the demo user and project for `make run`; safe to re-run (keeps existing data and password)."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo user and project if missing, and print how to sign in."

    def handle(self, *args, **options):
        from soraweb import envfile

        username = os.environ.get("DEMO_USERNAME", "demo")
        password = os.environ.get("DEMO_PASSWORD") or envfile.read().get("DEMO_PASSWORD")
        if not password:
            password = secrets.token_urlsafe(9)
            envfile.set_values({"DEMO_PASSWORD": password})
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com", "is_staff": True, "is_superuser": True}
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        for hook in seed_hooks():
            hook(user, self.stdout)
        site_url = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
        self.stdout.write(self.style.SUCCESS(f"soraweb: {site_url}  sign in as {username} / {password}"))


def seed_hooks():
    """Apps that seed demo data (a project, a provider key) register a function here."""
    hooks = []
    try:
        from projects.services import seed_demo_project
    except ImportError:
        pass
    else:
        hooks.append(seed_demo_project)
    try:
        from providers.services import seed_sorasim_key
    except ImportError:
        pass
    else:
        hooks.append(seed_sorasim_key)
    return hooks
