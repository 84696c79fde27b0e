from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from providers import incidents
from providers.audit import AuditEntry
from providers.models import KeyIncident, KeyState
from renders.states import Status

pytestmark = pytest.mark.django_db


def enable(client, key):
    return client.post(reverse("staff_key_enable", kwargs={"key_id": key.pk}), follow=True)


@pytest.mark.parametrize("make_state", [
    lambda key: key.disable(),
    lambda key: key.mark_invalid("401 Incorrect API key"),
    lambda key: key.drain(),
])
def test_it_puts_the_key_back_to_work(staff_client, key, staff, make_state):
    make_state(key)
    before = key.get_state_display().lower()
    response = enable(staff_client, key)
    assert "is active: it takes new renders" in response.content.decode()
    key.refresh_from_db()
    assert key.state == KeyState.ACTIVE and key.takes_new_work
    entry = AuditEntry.objects.get(action="key.enabled")
    assert entry.actor == staff and entry.detail == f"was {before}"


def test_it_resumes_waiting_renders_and_closes_the_incident(staff_client, key, make_render):
    key.mark_invalid("401")
    incidents.sweep()
    waiting = make_render(Status.WAITING, next_attempt_at=timezone.now() + timedelta(minutes=5))
    held = make_render(Status.WAITING, next_attempt_at=timezone.now() + timedelta(minutes=5),
                       heartbeat_at=timezone.now())  # a worker holds it: left alone
    response = enable(staff_client, key)
    assert "1 waiting render(s) resumed" in response.content.decode()
    waiting.refresh_from_db()
    held.refresh_from_db()
    assert waiting.next_attempt_at <= timezone.now()
    assert held.next_attempt_at > timezone.now()
    incident = KeyIncident.objects.get(key=key)
    assert incident.resolved_at is not None and incident.resolution == "enabled"


def test_an_active_key_is_refused_with_a_reason(staff_client, key):
    response = enable(staff_client, key)
    assert "main is already active." in response.content.decode()
    assert not AuditEntry.objects.filter(action="key.enabled").exists()


def test_non_staff_cannot_enable(client, bob, key):
    key.disable()
    client.force_login(bob)
    assert client.post(reverse("staff_key_enable", kwargs={"key_id": key.pk})).status_code == 403
    key.refresh_from_db()
    assert key.state == KeyState.DISABLED
