import time

import pytest
from django.core.cache import cache

from soraweb import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_heartbeats():
    cache.delete_many(["heartbeat:worker", "heartbeat:beat"])
    yield
    cache.delete_many(["heartbeat:worker", "heartbeat:beat"])


def test_it_answers_200_when_everything_is_alive(client):
    health.stamp("worker")
    health.stamp("beat")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "worker": "ok", "beat": "ok"}


def test_it_names_a_missing_worker(client, settings):
    settings.HEALTHZ_STARTUP_GRACE_SECONDS = 0
    health.stamp("beat")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["worker"]


def test_a_process_not_heard_from_yet_is_starting_within_the_grace(client, settings, monkeypatch):
    settings.HEALTHZ_STARTUP_GRACE_SECONDS = 60
    monkeypatch.setattr(health, "STARTED", time.monotonic() - 5)  # the web started 5 s ago
    health.stamp("beat")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "starting", "down": [], "checks": {
        "database": "ok", "broker": "ok", "worker": "starting", "beat": "ok"}}
    # a heartbeat that went stale is down at once, grace or not
    cache.set("heartbeat:beat", time.time() - settings.HEARTBEAT_STALE_SECONDS - 5, timeout=None)
    assert client.get("/healthz").json()["down"] == ["beat"]
    monkeypatch.setattr(health, "STARTED", time.monotonic() - 61)  # the grace is over
    assert client.get("/healthz").json()["down"] == ["beat", "worker"]


def test_it_names_a_stale_beat(client, settings):
    health.stamp("worker")
    cache.set("heartbeat:beat", time.time() - settings.HEARTBEAT_STALE_SECONDS - 5, timeout=None)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["beat"]
    assert "last heartbeat" in response.json()["checks"]["beat"]


def test_the_heartbeat_task_stamps_the_worker():
    from soraweb.tasks import heartbeat

    assert health.age("worker") is None
    heartbeat()
    assert health.age("worker") < 5


def test_staff_see_a_banner_when_processing_is_quiet(client, staff):
    client.force_login(staff)
    response = client.get("/accounts/password_change/")
    assert b"Background processing has gone quiet (worker, beat)" in response.content
    health.stamp("worker")
    health.stamp("beat")
    response = client.get("/accounts/password_change/")
    assert b"gone quiet" not in response.content


def test_members_do_not_see_the_banner(client, alice):
    client.force_login(alice)
    response = client.get("/accounts/password_change/")
    assert b"gone quiet" not in response.content
