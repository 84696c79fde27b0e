"""Rotation with real pipeline pieces: a real Celery worker (with beat), real Redis and PostgreSQL, sorasim over
HTTP. A key marked draining on the staff page takes no new render while its render in flight completes on it;
the new key, added on the add-key page, takes the next one."""

import pytest
from django.test import Client
from django.urls import reverse

from providers.models import ApiKey, KeyState
from renders.models import EventKind
from renders.states import Status
from tests.fixtures.sorasim import API_KEY
from tests.fixtures.waits import wait_for, wait_status
from tests.fixtures.world import submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NEW_KEY = "sk-rotation-new-key-0002"


@pytest.mark.slow(45)
def test_a_draining_key_gets_no_new_renders_while_its_in_flight_ones_complete(alice, project, staff,
                                                                             sorasim_shared, start_worker):
    sim = sorasim_shared
    sim.control.patch_faults(job_seconds=20)  # the key is drained while the job runs, with time to spare under load
    sim.control.set_key(NEW_KEY)
    old = ApiKey(name="old", base_url=sim.api_url, has_webhooks=False, rpm_limit=0, max_concurrent=0)
    old.secret = API_KEY
    old.save()
    sim.control.reset_counters()
    staff_client = Client()
    staff_client.force_login(staff)
    worker = start_worker()

    first = submit(alice, project)
    wait_status(first, {Status.QUEUED, Status.IN_PROGRESS}, worker=worker)
    assert first.api_key_id == old.pk

    response = staff_client.post(reverse("staff_key_drain", kwargs={"key_id": old.pk}))
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.state == KeyState.DRAINING
    first.refresh_from_db()
    assert first.status in (Status.QUEUED, Status.IN_PROGRESS)  # still in flight on the key being drained
    sim.control.patch_faults(job_seconds=2)  # for the jobs created from now on: the second render's

    second = submit(alice, project, prompt="a second lighthouse, further up the coast")
    wait_for(lambda: second.events.filter(kind=EventKind.WAIT, message__contains="old is draining").exists(),
             what="the second render to wait for a key", worker=worker)
    wait_status(first, Status.COMPLETED, worker=worker)  # polled and downloaded with the draining key
    second.refresh_from_db()
    assert second.status == Status.WAITING and second.api_key_id is None
    assert sim.control.counters(API_KEY)["creates_attempted"] == 1

    # rotation: the new key is added on the staff page; the waiting render goes to it
    staff_client.post(reverse("staff_key_add"), {
        "name": "new", "provider": "sorasim", "base_url": sim.api_url, "secret": NEW_KEY, "rpm_limit": 0,
        "max_concurrent": 0, "can_remix_endpoint": "on"})
    new = ApiKey.objects.get(name="new")
    wait_status(second, Status.COMPLETED, worker=worker)

    first.refresh_from_db()
    assert first.api_key_id == old.pk and second.api_key_id == new.pk
    assert sim.control.counters(API_KEY)["creates_accepted"] == 1
    assert sim.control.counters(NEW_KEY)["creates_accepted"] == 1
    old.refresh_from_db()
    assert old.state == KeyState.DRAINING  # nothing put it back to work
