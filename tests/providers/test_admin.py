"""The Django admin only shows provider keys: they are added and changed on the staff pages, through the one key form
(tests/staff/test_key_add.py, test_key_edit.py). The admin shows no secret, not even encrypted."""

import pytest
from django.urls import reverse

from providers.models import ApiKey, AuditEntry, KeyState

SECRET = "sk-admin-DISTINCTIVE-secret-7a7b"
WEBHOOK_SECRET = "whsec_QWRtaW5XZWJob29rU2VjcmV0MTIzNDU2Nzg5MDEy"

pytestmark = [pytest.mark.django_db,
              pytest.mark.key(name="Apifree", provider="apifree", base_url="https://api.example.com/v1", rpm_limit=25,
                              secret=SECRET, webhook_secret=WEBHOOK_SECRET)]


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.org", "password")
    client.force_login(user)
    return client


def form_data(**overrides):
    data = {
        "name": "Apifree", "provider": "apifree", "base_url": "https://api.example.com/v1",
        "secret": SECRET, "webhook_secret": WEBHOOK_SECRET, "rpm_limit": 25, "max_concurrent": 10,
        "can_remix_endpoint": "on", "has_webhooks": "on",
    }
    data.update(overrides)
    return data


def test_it_lists_keys_without_their_secrets_and_points_to_the_staff_pages(admin_client, key):
    listing = admin_client.get(reverse("admin:providers_apikey_changelist")).content.decode()
    assert "Apifree" in listing and "••••7a7b" in listing
    assert SECRET not in listing and key.secret_encrypted not in listing
    assert reverse("staff_keys") in listing and reverse("staff_key", args=[key.pk]) in listing
    assert reverse("admin:providers_apikey_add") not in listing


def test_a_keys_page_shows_no_secret(admin_client, key):
    response = admin_client.get(reverse("admin:providers_apikey_change", args=[key.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert SECRET not in page and WEBHOOK_SECRET not in page
    assert key.secret_encrypted not in page and key.webhook_secret_encrypted not in page
    assert "••••7a7b" in page and f"••••{key.webhook_secret_last4}" in page
    assert f"/webhooks/{key.webhook_uuid}/" in page
    assert reverse("staff_key", args=[key.pk]) in page
    assert 'type="password"' not in page and 'name="_save"' not in page


def test_it_refuses_to_add_a_key(admin_client):
    assert admin_client.get(reverse("admin:providers_apikey_add")).status_code == 403
    assert admin_client.post(reverse("admin:providers_apikey_add"), form_data()).status_code == 403
    assert not ApiKey.objects.exists()


def test_it_refuses_to_change_a_key(admin_client, key):
    response = admin_client.post(reverse("admin:providers_apikey_change", args=[key.pk]),
                                 form_data(secret="sk-new-secret-9999", rpm_limit=50))
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.secret == SECRET and key.rpm_limit == 25
    assert not AuditEntry.objects.filter(action="key.changed").exists()


def test_it_refuses_to_delete_a_key(admin_client, key):
    response = admin_client.post(reverse("admin:providers_apikey_delete", args=[key.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()


def test_it_has_no_actions_that_change_state(admin_client, key):
    key.mark_out_of_credit("insufficient_quota")
    changelist = reverse("admin:providers_apikey_changelist")
    for action in ("enable_keys", "drain_keys", "disable_keys", "delete_selected"):
        admin_client.post(changelist, {"action": action, "_selected_action": [key.pk], "post": "yes"})
        key.refresh_from_db()
        assert key.state == KeyState.OUT_OF_CREDIT


def test_the_audit_log_cannot_be_edited_in_the_admin(admin_client, key):
    entry = AuditEntry.objects.create(actor_name="sam", action="key.added", target_type="key", target_id=key.pk,
                                      target=key.name)
    assert admin_client.get(reverse("admin:providers_auditentry_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:providers_auditentry_add")).status_code == 403
    response = admin_client.post(reverse("admin:providers_auditentry_change", args=[entry.pk]),
                                 {"action": "key.removed"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.action == "key.added"
