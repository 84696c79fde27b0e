"""Seed the demo user, project and simulator key for `make run`; safe to re-run (keeps existing data and password).

It lives in providers because it seeds a project and a provider key: providers may import projects, not the reverse.
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from projects.services import seed_demo_project
from providers.simulator_key import seed_sorasim_key
from soraweb import envfile


class Command(BaseCommand):
    help = "Create the demo user, project and simulator key if missing, and print how to sign in."

    def handle(self, *args, **options):
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
        seed_demo_project(user, self.stdout)
        seed_sorasim_key(user, self.stdout)
        self.stdout.write(self.style.SUCCESS(f"soraweb: {settings.SITE_URL}  sign in as {username} / {password}"))
