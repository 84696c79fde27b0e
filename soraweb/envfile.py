"""The untracked `.env` file: read by settings, written once by `make run`.

Kept free of Django imports so settings can use it before Django is configured.
"""

import base64
import os
import secrets
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = BASE_DIR / ".env"


def read(path=ENV_FILE):
    """Return KEY=VALUE pairs of an env file (comments and blank lines skipped)."""
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip("'\"")
    return values


def load(path=ENV_FILE):
    """Put the file's values into os.environ without overriding real environment variables."""
    for key, value in read(path).items():
        os.environ.setdefault(key, value)


def set_values(new, path=ENV_FILE, overwrite=False):
    """Append (or, with overwrite, replace) values; keeps everything else in the file."""
    current = read(path)
    lines = path.read_text().splitlines() if path.exists() else []
    for key, value in new.items():
        if key in current and not overwrite:
            continue
        lines = [line for line in lines if line.split("=", 1)[0].strip() != key]
        lines.append(f"{key}={value}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def ensure_dev_defaults(path=ENV_FILE):
    """Generate a secret key and an encryption key once; a re-run keeps them (and the data they protect). Settings
    for a laptop (DEBUG, OUTBOUND_ALLOW_PRIVATE) are added when missing, never changed."""
    set_values(
        {
            "DEBUG": "1",
            # the Procfile's sorasim is on 127.0.0.1 over http: the outbound-URL policy lets local servers through
            "OUTBOUND_ALLOW_PRIVATE": "1",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        },
        path,
    )


if __name__ == "__main__":
    ensure_dev_defaults(Path(sys.argv[1]) if len(sys.argv) > 1 else ENV_FILE)
    print(f"{ENV_FILE.name}: secret key and encryption key in place")
