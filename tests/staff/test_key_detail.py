import pytest
from django.urls import reverse
from django.utils import timezone

from providers import audit
from providers.models import KeyState, KeyTest
from renders.states import Status

pytestmark = pytest.mark.django_db


def test_it_shows_secrets_masked_health_and_the_webhook_url(staff_client, key, make_render, settings):
    make_render(Status.IN_PROGRESS, api_key=key)
    page = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk})).content.decode()
    assert "••••0001" in page and "sk-keyadmin-0001" not in page
    assert f"{settings.SITE_URL}/webhooks/{key.webhook_uuid}/" in page
    assert "1 render</dd>" in page  # in flight on this key
    for action in ("staff_key_drain", "staff_key_disable", "staff_key_test", "staff_key_edit"):
        assert reverse(action, kwargs={"key_id": key.pk}) in page
    assert reverse("staff_key_enable", kwargs={"key_id": key.pk}) not in page  # already active


def test_an_out_of_credit_key_offers_the_top_up_and_explains(staff_client, key):
    key.mark_out_of_credit("insufficient_quota")
    page = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk})).content.decode()
    assert reverse("staff_key_top_up", kwargs={"key_id": key.pk}) in page
    assert "Out of credit." in page and "Top-up acknowledged" in page


def test_it_shows_the_audit_trail_of_the_key(staff_client, key, staff):
    audit.record(staff, "key.drained", key, "was active")
    page = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk})).content.decode()
    assert "key.drained" in page and "sam" in page


def test_the_test_poller_keeps_polling_while_the_test_runs(staff_client, key, staff):
    KeyTest.objects.create(key=key, requested_by=staff)
    response = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk}),
                                headers={"HX-Request": "true", "HX-Target": "key-test"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="key-test"') and "<html" not in body  # the partial only
    assert 'data-poll="1"' in body and 'hx-trigger="poll"' in body and "Testing…" in body


def test_the_finished_test_removes_its_poller(staff_client, key, staff):
    KeyTest.objects.create(key=key, requested_by=staff, outcome=KeyTest.Outcome.INVALID_KEY, status_code=401,
                           finished_at=timezone.now(), message="The provider refused the key.", request_id="req_1")
    body = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk}),
                            headers={"HX-Request": "true", "HX-Target": "key-test"}).content.decode()
    assert "data-poll" not in body
    assert 'data-outcome="invalid_key"' in body and "HTTP 401" in body and "req_1" in body


def test_a_draining_key_says_what_finishes_on_it(staff_client, key, make_render):
    make_render(Status.QUEUED, api_key=key)
    key.drain()
    assert key.state == KeyState.DRAINING
    page = staff_client.get(reverse("staff_key", kwargs={"key_id": key.pk})).content.decode()
    assert "1 render in flight finishes on this key" in page
    assert reverse("staff_key_enable", kwargs={"key_id": key.pk}) in page


def test_an_unknown_key_is_404(staff_client):
    assert staff_client.get(reverse("staff_key", kwargs={"key_id": 999})).status_code == 404
