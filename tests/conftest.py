"""The test settings and the database the suite runs on; the test world (users, projects, keys, renders) is
tests/fixtures/world.py, the waits tests/fixtures/waits.py.

The suite runs on whichever database the environment names: PostgreSQL with DATABASE_URL, else a SQLite FILE
with the site's own options (WAL, IMMEDIATE transactions, the busy timeout), never Django's in-memory default,
so a live server and a real worker process see the test's rows as `make run`'s processes would.
`@pytest.mark.postgres_only("reason")` marks a test whose behaviour exists only on PostgreSQL; on SQLite it is
skipped with that reason.

Process fixtures (sorasim, a real Celery worker) live in tests/fixtures/ and are loaded as plugins.
"""

import pytest
from django.conf import settings as django_settings

pytest_plugins = ["tests.fixtures.world", "tests.fixtures.browser", "tests.fixtures.sorasim", "tests.fixtures.worker",
                  "tests.fixtures.durations"]


def on_sqlite():
    return django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("postgres_only")
        if marker is None:
            continue
        if not marker.args or not str(marker.args[0]).strip():
            raise pytest.UsageError(f"{item.nodeid}: postgres_only needs a reason, postgres_only(\"why\")")
        if on_sqlite():
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {marker.args[0]}"))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    # Django would test SQLite in memory, which no other process can open: a file it is, created and removed
    # by the test run (OPTIONS are the site's, since the test connection keeps them).
    db = django_settings.DATABASES["default"]
    if on_sqlite() and not db.get("TEST", {}).get("NAME"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    # hashed static names need a manifest that only collectstatic writes: plain storage in tests
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SECURE_SSL_REDIRECT = False
    # the rate limits on our own endpoints are off unless a test is about them (tests/soraweb/test_rate_limits.py)
    settings.RATE_LIMIT_SUBMITS_PER_MINUTE = None
    settings.RATE_LIMIT_COMMENTS_PER_MINUTE = None
    settings.RATE_LIMIT_INVITATIONS_PER_HOUR = None
    settings.RATE_LIMIT_CSP_REPORTS_PER_MINUTE = None
    # keys talk to sorasim on 127.0.0.1 over http; the outbound-URL policy's own tests turn this off
    settings.OUTBOUND_ALLOW_PRIVATE = True
