"""The test-key task against a real sorasim over HTTP: every answer, and what it does to the key."""

import pytest
from django.core import mail

from providers import keyadmin, limiter
from providers.models import KeyIncident, KeyState, KeyTest
from tests.fixtures.sorasim import API_KEY

pytestmark = pytest.mark.django_db


def run(key, user=None):
    return keyadmin.run_test(KeyTest.objects.create(key=key, requested_by=user).pk)


def test_a_working_key_passes(sim_key, sim):
    test = run(sim_key)
    assert test.outcome == KeyTest.Outcome.OK and test.status_code == 200 and test.finished_at
    assert sim.control.counters(API_KEY)["requests"]["GET /v1/videos 200"] == 1
    sim_key.refresh_from_db()
    assert sim_key.state == KeyState.ACTIVE


def test_a_refused_key_is_marked_invalid_and_opens_an_incident(sim_key, sim, staff, django_capture_on_commit_callbacks):
    sim.control.set_key(API_KEY, valid=False)
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        test = run(sim_key, staff)
    assert test.outcome == KeyTest.Outcome.INVALID_KEY and test.status_code == 401
    assert "Incorrect API key provided" in test.message and API_KEY not in test.message
    sim_key.refresh_from_db()
    assert sim_key.state == KeyState.INVALID
    assert KeyIncident.objects.get(key=sim_key, resolved_at=None).kind == KeyState.INVALID
    assert len(enqueued) == 1  # the incident's email


def test_a_provider_fault_leaves_the_key_alone(sim_key, sim):
    sim.control.patch_faults(error_rate=1.0, error_statuses=[500])
    test = run(sim_key)
    assert test.outcome == KeyTest.Outcome.UNAVAILABLE and test.status_code == 500
    sim_key.refresh_from_db()
    assert sim_key.state == KeyState.ACTIVE and "HTTP 500" in sim_key.last_error
    assert not KeyIncident.objects.exists()


def test_a_rate_limited_key_is_paused_for_every_worker(sim_key, sim):
    sim.control.set_key(API_KEY, rpm=1)
    assert run(sim_key).outcome == KeyTest.Outcome.OK
    test = run(sim_key)
    assert test.outcome == KeyTest.Outcome.RATE_LIMITED and test.status_code == 429
    sim_key.refresh_from_db()
    assert sim_key.state == KeyState.RATE_LIMITED and sim_key.paused_until is not None


def test_nothing_is_sent_when_our_own_limit_is_reached(make_key, sim):
    key = make_key("tight", secret=API_KEY, base_url=sim.api_url, rpm_limit=1)
    assert limiter.acquire_request(key.pk) == 0.0  # a render took the one request of this minute
    test = run(key)
    assert test.outcome == KeyTest.Outcome.NOT_SENT and "Nothing was sent" in test.message
    assert "GET /v1/videos 200" not in sim.control.counters(API_KEY)["requests"]


def test_an_unreachable_provider_is_reported(make_key):
    key = make_key("nowhere", base_url="http://127.0.0.1:9/v1", rpm_limit=0)
    test = run(key)
    assert test.outcome == KeyTest.Outcome.UNAVAILABLE and "was not sent" in test.message
    assert not mail.outbox
