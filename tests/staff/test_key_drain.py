import pytest
from django.urls import reverse

from providers import limiter
from providers.audit import AuditEntry
from providers.models import KeyState
from renders import keypool
from renders.states import Status

pytestmark = pytest.mark.django_db


def test_it_drains_the_key_and_new_renders_go_to_the_other_key(staff_client, make_key, staff, make_render):
    old = make_key("old")
    new = make_key("new", secret="sk-new-key-0002")
    make_render(Status.IN_PROGRESS, api_key=old)
    response = staff_client.post(reverse("staff_key_drain", kwargs={"key_id": old.pk}), follow=True)
    assert "old is draining: 1 render(s) in flight finish on it" in response.content.decode()
    old.refresh_from_db()
    assert old.state == KeyState.DRAINING and not old.takes_new_work
    entry = AuditEntry.objects.get(action="key.drained")
    assert entry.actor == staff and "1 render(s) in flight" in entry.detail
    # the pipeline's own key choice (renders.keypool): several new renders, every one on the new key
    for _ in range(3):
        choice = keypool.choose_key(make_render(Status.SUBMITTING))
        assert choice.key == new
    assert limiter.jobs_in_flight(old.pk) == 0 and limiter.jobs_in_flight(new.pk) == 3


def test_with_no_other_key_new_renders_wait_for_one(staff_client, key, make_render):
    staff_client.post(reverse("staff_key_drain", kwargs={"key_id": key.pk}))
    choice = keypool.choose_key(make_render(Status.SUBMITTING))
    assert choice.key is None and "main is draining" in choice.reason


def test_only_a_working_key_can_be_drained(staff_client, key):
    key.disable()
    response = staff_client.post(reverse("staff_key_drain", kwargs={"key_id": key.pk}), follow=True)
    assert "Only an active or rate-limited key can be drained; main is disabled." in response.content.decode()
    key.refresh_from_db()
    assert key.state == KeyState.DISABLED
