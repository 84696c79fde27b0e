"""Production settings pass `check --deploy`; the SQLite default is set up for three writing processes."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, env_extra, tmp_path):
    # the browser fixture's async flag would trip check --deploy (async.E001): not part of a deployment
    dropped = {"DEBUG", "SORAWEB_TESTING", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(SORAWEB_VAR_DIR=str(tmp_path), **env_extra)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_extra={
            "DEBUG": "0",
            "SECRET_KEY": "a-real-production-secret-" + "k3y" * 20,
            "ALLOWED_HOSTS": "studio.example.com",
            "FIELD_ENCRYPTION_KEYS": "0" * 43 + "=",
            "EMAIL_HOST": "smtp.example.com",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    result = run_manage("check", env_extra={"DEBUG": "0", "SECRET_KEY": ""}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_sqlite_default_uses_wal_and_immediate_transactions(tmp_path):
    code = (
        "import django; django.setup();"
        "from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "print(connection.settings_dict['OPTIONS']['transaction_mode'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(SORAWEB_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="soraweb.settings", DEBUG="1")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.stdout.split() == ["wal", "IMMEDIATE"], result.stderr
