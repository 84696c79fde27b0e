"""The local folders the processes write to, created at start-up: importing settings has no side effects."""

from pathlib import Path

from django.conf import settings


def ensure_dirs():
    """Create VAR_DIR (the default SQLite file, beat's schedule) and STATIC_ROOT (whitenoise warns about a
    missing one until collectstatic has run).

    Folders that one piece of code writes to (media, the file cache, the download part files) are created by
    that code when it writes.
    """
    for folder in (settings.VAR_DIR, settings.STATIC_ROOT):
        Path(folder).mkdir(parents=True, exist_ok=True)
