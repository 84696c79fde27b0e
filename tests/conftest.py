"""Shared fixtures: the users alice (owner), bob (teammate) and charlie (outsider), and the test settings.

Process fixtures (sorasim, a real Celery worker) live in tests/fixtures/ and are loaded as plugins.
"""

import pytest

pytest_plugins = ["tests.fixtures.processes", "tests.fixtures.browser", "tests.fixtures.sorasim",
                  "tests.fixtures.worker"]


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


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.org", "password")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.org", "password")


@pytest.fixture
def charlie(django_user_model):
    return django_user_model.objects.create_user("charlie", "charlie@example.org", "password")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("sam", "sam@example.org", "password", is_staff=True)
