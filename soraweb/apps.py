from django.apps import AppConfig

from soraweb import paths


class SorawebConfig(AppConfig):
    name = "soraweb"
    verbose_name = "soraweb"

    def ready(self):
        # Every process (web, worker, beat, manage.py, a script's django.setup()) passes here before it opens the
        # SQLite file or beat's schedule under VAR_DIR.
        paths.ensure_dirs()
