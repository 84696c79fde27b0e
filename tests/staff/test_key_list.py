import pytest
from django.urls import reverse

from providers import limiter
from providers.models import KeyState

pytestmark = pytest.mark.django_db


def test_it_lists_keys_with_health_and_headroom(staff_client, make_key, project):
    main = make_key("main", rpm_limit=10, max_concurrent=4)
    spare = make_key("spare", secret="sk-spare-key-7777")
    spare.projects.add(project)
    for _ in range(3):
        assert limiter.acquire_request(main.pk) == 0.0
    assert limiter.acquire_job_slot(main.pk)
    spare.mark_invalid("401 Incorrect API key provided")

    page = staff_client.get(reverse("staff_keys")).content.decode()

    assert "••••0001" in page and "••••7777" in page
    assert 'aria-label="Requests in the last minute: 3 of 10 (7 left)"' in page
    assert 'aria-label="Jobs in flight: 1 of 4 (3 left)"' in page
    assert "badge badge-invalid" in page and "401 Incorrect API key provided" in page
    assert "Default pool" in page and "Trailer" in page


def test_it_says_when_there_are_no_keys(staff_client):
    page = staff_client.get(reverse("staff_keys")).content.decode()
    assert "No provider keys yet" in page


def test_it_refuses_non_staff_with_403(client, alice, key):
    client.force_login(alice)
    response = client.get(reverse("staff_keys"))
    assert response.status_code == 403
    assert "••••0001" not in response.content.decode()


def test_a_paused_key_shows_until_when(staff_client, key):
    limiter.pause(key.pk, 120, "rate limited")
    key.refresh_from_db()
    assert key.state == KeyState.RATE_LIMITED
    page = staff_client.get(reverse("staff_keys")).content.decode()
    assert "Paused until" in page and "badge badge-rate_limited" in page
