"""The "test key" action: the page records the test and enqueues it; a worker makes the live call; the page's
poller shows the result. Here the enqueued task body runs in the test (the worker's part is test_test_key_task.py,
and test_browser.py runs the whole thing with a real worker)."""

import pytest
from django.urls import reverse

from providers import tasks
from providers.audit import AuditEntry
from providers.models import KeyTest
from tests.fixtures.sorasim import API_KEY

pytestmark = pytest.mark.django_db


def test_it_enqueues_the_test_and_the_page_shows_the_result(staff_client, sim_key, staff,
                                                           django_capture_on_commit_callbacks):
    url = reverse("staff_key_test", kwargs={"key_id": sim_key.pk})
    with django_capture_on_commit_callbacks() as enqueued:
        response = staff_client.post(url)
    assert response.status_code == 302
    test = KeyTest.objects.get(key=sim_key)
    assert test.outcome == KeyTest.Outcome.PENDING and test.requested_by == staff
    assert len(enqueued) == 1
    assert AuditEntry.objects.get(action="key.tested").actor == staff

    pending = staff_client.get(reverse("staff_key", kwargs={"key_id": sim_key.pk})).content.decode()
    assert "Testing…" in pending and 'data-poll="1"' in pending

    tasks.test_key(test.pk)  # what the worker runs for the enqueued message

    done = staff_client.get(reverse("staff_key", kwargs={"key_id": sim_key.pk}),
                            headers={"HX-Request": "true", "HX-Target": "key-test"}).content.decode()
    assert 'data-outcome="ok"' in done and "The provider accepted the key." in done and "data-poll" not in done


def test_with_htmx_it_answers_with_the_polling_partial(staff_client, sim_key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = staff_client.post(reverse("staff_key_test", kwargs={"key_id": sim_key.pk}),
                                     headers={"HX-Request": "true", "HX-Target": "key-test"})
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="key-test"')
    assert 'hx-trigger="poll"' in body and "Testing…" in body


def test_a_rerun_of_the_task_is_a_no_op(sim_key, staff, sorasim_shared):
    test = KeyTest.objects.create(key=sim_key, requested_by=staff)
    tasks.test_key(test.pk)
    tasks.test_key(test.pk)
    assert sorasim_shared.control.counters(API_KEY)["requests"].get("GET /v1/videos 200") == 1
