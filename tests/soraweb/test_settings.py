"""Production settings pass `check --deploy`; the SQLite default is set up for three writing processes;
importing the settings writes nothing (start-up creates the folders); former environment names still work."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


def run_python(code, env_extra, dropped=()):
    dropped = {"DATABASE_URL", "QUOTA_MAX_KEY_WAIT_SECONDS", "RENDER_MAX_KEY_WAIT_SECONDS", *dropped}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(SORAWEB_TESTING="1", DJANGO_SETTINGS_MODULE="soraweb.settings", **env_extra)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_importing_the_settings_creates_no_folder(tmp_path, broker):
    var_dir = tmp_path / "var"
    env_extra = {"SORAWEB_VAR_DIR": str(var_dir)}
    if broker == "redis":
        env_extra["REDIS_URL"] = "redis://127.0.0.1:6379/0"  # nothing connects at import
    result = run_python("import soraweb.settings", env_extra, dropped={"REDIS_URL"})
    assert result.returncode == 0, result.stderr
    assert not var_dir.exists()


def test_start_up_creates_the_folders_the_processes_write_to(tmp_path):
    var_dir = tmp_path / "var"
    result = run_python("import django; django.setup()", {"SORAWEB_VAR_DIR": str(var_dir)})
    assert result.returncode == 0, result.stderr
    assert (var_dir / "staticfiles").is_dir()


def test_the_key_wait_is_still_read_under_its_former_name(tmp_path):
    code = "from django.conf import settings; print(settings.RENDER_MAX_KEY_WAIT_SECONDS)"
    base = {"SORAWEB_VAR_DIR": str(tmp_path)}
    assert run_python(code, base).stdout.split() == ["3600"]
    assert run_python(code, {**base, "QUOTA_MAX_KEY_WAIT_SECONDS": "120"}).stdout.split() == ["120"]
    both = {**base, "QUOTA_MAX_KEY_WAIT_SECONDS": "120", "RENDER_MAX_KEY_WAIT_SECONDS": "90"}
    assert run_python(code, both).stdout.split() == ["90"]
