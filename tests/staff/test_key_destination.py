"""Where a key's secret goes: changing a key's base URL or key header asks for the API key (and, with webhooks, the
webhook secret) again, so the edit form cannot be used to send a stored secret to a server of one's choosing and
read it there. The "server of one's choosing" is a listener on 127.0.0.1 that records every header reaching it."""

import pytest
from django.urls import reverse

from providers import tasks
from providers.audit import AuditEntry
from providers.models import KeyDetection
from tests.fixtures.world import WEBHOOK_SECRET
from tests.staff.conftest import key_form

pytestmark = pytest.mark.django_db

SECRET = "sk-keyadmin-0001"  # the `key` fixture's, on http://127.0.0.1:9/v1 where nothing listens
NEW_WEBHOOK_SECRET = "whsec_bmV3LXByb3ZpZGVyLXdlYmhvb2stc2VjcmV0"


def edit(client, key, path="", **overrides):
    # the form as the page shows it for the key: every field as it is, secrets empty ("keep")
    data = key_form(name=key.name, provider=key.provider, base_url=key.base_url, secret="", webhook_secret="",
                    auth_header=key.auth_header, rpm_limit=key.rpm_limit, max_concurrent=key.max_concurrent,
                    has_webhooks="on" if key.has_webhooks else None,
                    can_remix_endpoint="on" if key.can_remix_endpoint else None)
    data.update(overrides)
    return client.post(reverse("staff_key_edit", kwargs={"key_id": key.pk}) + path,
                       {k: v for k, v in data.items() if v is not None})


def run_key_test(staff_client, key):
    """What "Test key" does: the page records the test, the worker makes the call."""
    staff_client.post(reverse("staff_key_test", kwargs={"key_id": key.pk}))
    tasks.test_key(key.tests.first().pk)
    return key.tests.first()


def test_a_new_base_url_without_the_secret_is_refused_and_nothing_reaches_it(staff_client, key, listener):
    response = edit(staff_client, key, base_url=listener.url)
    assert response.status_code == 400
    assert "The base URL changed: enter the API key again." in response.content.decode()
    key.refresh_from_db()
    assert key.base_url == "http://127.0.0.1:9/v1" and key.secret == SECRET
    assert not AuditEntry.objects.filter(action="key.changed").exists()

    run_key_test(staff_client, key)  # still at the old address, where nothing listens
    assert listener.requests == []
    assert not any(SECRET in value for _, value in listener.headers_seen())


def test_the_secret_reaches_a_new_base_url_only_once_typed_again(staff_client, key, listener):
    assert edit(staff_client, key, base_url=listener.url).status_code == 400
    assert edit(staff_client, key, base_url=listener.url, secret=SECRET).status_code == 302
    key.refresh_from_db()
    assert key.base_url == listener.url and key.secret == SECRET

    result = run_key_test(staff_client, key)
    assert result.ok and result.status_code == 200
    assert [request["path"].split("?")[0] for request in listener.requests] == ["/v1/videos"]
    assert ("authorization", f"Bearer {SECRET}") in listener.headers_seen()


def test_a_new_key_header_asks_for_the_secret_too(staff_client, key):
    response = edit(staff_client, key, auth_header="x-echo-me")
    assert response.status_code == 400
    assert "The key header changed: enter the API key again." in response.content.decode()
    key.refresh_from_db()
    assert key.auth_header == ""

    response = edit(staff_client, key, auth_header="x-echo-me", base_url="http://127.0.0.1:10/v1")
    assert "The base URL and key header changed" in response.content.decode()

    assert edit(staff_client, key, auth_header="api-key", secret="sk-azure-key-0002").status_code == 302
    key.refresh_from_db()
    assert key.auth_header == "api-key" and key.secret == "sk-azure-key-0002"


def test_a_preset_in_the_address_does_not_hide_a_new_key_header(staff_client, key):
    # ?preset=azure makes api-key the form's initial key header; the key's own is still Bearer
    response = edit(staff_client, key, path="?preset=azure", auth_header="api-key")
    assert response.status_code == 400
    key.refresh_from_db()
    assert key.auth_header == ""


@pytest.mark.key(has_webhooks=True)
def test_with_webhooks_the_webhook_secret_is_typed_again_too(staff_client, key, listener):
    response = edit(staff_client, key, base_url=listener.url, secret=SECRET)
    assert response.status_code == 400
    page = response.content.decode()
    assert "The base URL changed: enter the webhook signing secret again too" in page
    assert SECRET not in page
    key.refresh_from_db()
    assert key.base_url == "http://127.0.0.1:9/v1"

    response = edit(staff_client, key, base_url=listener.url, secret=SECRET, webhook_secret=NEW_WEBHOOK_SECRET)
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.base_url == listener.url and key.webhook_secret == NEW_WEBHOOK_SECRET


@pytest.mark.key(has_webhooks=True)
def test_turning_webhooks_off_while_moving_needs_only_the_api_key(staff_client, key, listener):
    assert edit(staff_client, key, base_url=listener.url, secret=SECRET, has_webhooks=None).status_code == 302
    key.refresh_from_db()
    assert key.base_url == listener.url and not key.has_webhooks and key.webhook_secret == WEBHOOK_SECRET


def test_other_changes_keep_the_secrets_without_typing_them(staff_client, key):
    assert edit(staff_client, key, rpm_limit=40, name="Renamed").status_code == 302
    key.refresh_from_db()
    assert (key.name, key.rpm_limit, key.secret) == ("Renamed", 40, SECRET)


def test_an_old_detection_cannot_move_the_key_back(staff_client, key, listener, staff):
    # detected while the key pointed at the listener; since then the key moved (with its secret typed again)
    detection = KeyDetection.objects.create(key=key, requested_by=staff, outcome="done",
                                            proposal={"base_url": listener.url, "auth_header": ""})
    response = staff_client.post(reverse("staff_key_detect_apply", kwargs={"key_id": key.pk,
                                                                           "detection_id": detection.pk}), follow=True)
    assert "has moved to another base URL since this detection" in response.content.decode()
    key.refresh_from_db()
    assert key.base_url == "http://127.0.0.1:9/v1"
    run_key_test(staff_client, key)
    assert listener.requests == []
