from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from providers import incidents
from providers.audit import AuditEntry
from providers.models import KeyIncident, KeyState
from renders.states import Status

pytestmark = pytest.mark.django_db


def test_it_reactivates_the_key_and_resumes_the_renders_waiting_for_it(staff_client, make_key, project, staff,
                                                                       make_render):
    key = make_key("dedicated")
    key.projects.add(project)
    key.mark_out_of_credit("insufficient_quota")
    incidents.sweep()
    later = timezone.now() + timedelta(minutes=5)
    mine = make_render(Status.WAITING, next_attempt_at=later)
    from projects.models import Project
    elsewhere = Project.objects.create(name="Elsewhere")
    other = make_render(Status.WAITING, next_attempt_at=later, project=elsewhere)  # not this key's pool

    response = staff_client.post(reverse("staff_key_top_up", kwargs={"key_id": key.pk}), follow=True)

    assert "Top-up acknowledged: dedicated takes renders again. 1 waiting render(s) resumed." in \
        response.content.decode()
    key.refresh_from_db()
    mine.refresh_from_db()
    other.refresh_from_db()
    assert key.state == KeyState.ACTIVE
    assert mine.next_attempt_at <= timezone.now() and other.next_attempt_at == later
    incident = KeyIncident.objects.get(key=key)
    assert incident.resolved_at and incident.resolution == "top-up acknowledged" and incident.resolved_by == staff
    assert AuditEntry.objects.get(action="key.topped_up").actor == staff


def test_a_key_that_is_not_out_of_credit_is_refused(staff_client, key):
    key.mark_invalid("401")
    response = staff_client.post(reverse("staff_key_top_up", kwargs={"key_id": key.pk}), follow=True)
    assert "main is invalid, not out of credit." in response.content.decode()
    key.refresh_from_db()
    assert key.state == KeyState.INVALID


def test_a_remix_waiting_for_its_parents_key_resumes_too(staff_client, make_key, make_render):
    key = make_key("parent key")
    other = make_key("other", secret="sk-other-key-0003")
    parent = make_render(Status.COMPLETED, api_key=key, provider_video_id="video_parent")
    later = timezone.now() + timedelta(minutes=5)
    remix = make_render(Status.WAITING, remix_of=parent, api_key=key, next_attempt_at=later)
    key.mark_out_of_credit("insufficient_quota")
    other.mark_out_of_credit("insufficient_quota")
    staff_client.post(reverse("staff_key_top_up", kwargs={"key_id": other.pk}))
    remix.refresh_from_db()
    assert remix.next_attempt_at == later  # the other key cannot remix this parent's video
    staff_client.post(reverse("staff_key_top_up", kwargs={"key_id": key.pk}))
    remix.refresh_from_db()
    assert remix.next_attempt_at <= timezone.now()


def test_a_render_backing_off_after_a_provider_fault_keeps_its_backoff(staff_client, key, make_render):
    later = timezone.now() + timedelta(minutes=5)
    backing_off = make_render(Status.WAITING, next_attempt_at=later, attempts=2)
    key.mark_out_of_credit("insufficient_quota")
    staff_client.post(reverse("staff_key_top_up", kwargs={"key_id": key.pk}))
    backing_off.refresh_from_db()
    assert backing_off.next_attempt_at == later
