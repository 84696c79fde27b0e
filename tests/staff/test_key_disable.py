import pytest
from django.urls import reverse

from providers import incidents
from providers.audit import AuditEntry
from providers.models import KeyIncident, KeyState
from renders import keypool
from renders.states import Status

pytestmark = pytest.mark.django_db


def test_it_disables_the_key_and_the_pipeline_takes_no_new_work_on_it(staff_client, key, staff, make_render):
    response = staff_client.post(reverse("staff_key_disable", kwargs={"key_id": key.pk}), follow=True)
    assert "is disabled: no new renders" in response.content.decode()
    key.refresh_from_db()
    assert key.state == KeyState.DISABLED
    assert AuditEntry.objects.get(action="key.disabled").actor == staff
    choice = keypool.choose_key(make_render(Status.SUBMITTING))
    assert choice.key is None and "main is disabled" in choice.reason


def test_disabling_a_broken_key_closes_its_incident(staff_client, key):
    key.mark_out_of_credit("insufficient_quota")
    incidents.sweep()
    staff_client.post(reverse("staff_key_disable", kwargs={"key_id": key.pk}))
    incident = KeyIncident.objects.get(key=key)
    assert incident.resolved_at is not None and incident.resolution == "disabled"


def test_a_disabled_key_is_refused_with_a_reason(staff_client, key):
    key.disable()
    response = staff_client.post(reverse("staff_key_disable", kwargs={"key_id": key.pk}), follow=True)
    assert "main is already disabled." in response.content.decode()
    assert not AuditEntry.objects.filter(action="key.disabled").exists()
