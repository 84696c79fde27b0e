import pytest
from django.urls import reverse

from providers.models import ApiKey, KeyState

SECRET = "sk-admin-DISTINCTIVE-secret-7a7b"
WEBHOOK_SECRET = "whsec_QWRtaW5XZWJob29rU2VjcmV0MTIzNDU2Nzg5MDEy"


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


@pytest.mark.django_db
def test_it_adds_a_key_with_write_only_secrets(admin_client):
    response = admin_client.post(reverse("admin:providers_apikey_add"), form_data())
    assert response.status_code == 302
    key = ApiKey.objects.get(name="Apifree")
    assert key.secret == SECRET and key.webhook_secret == WEBHOOK_SECRET

    page = admin_client.get(reverse("admin:providers_apikey_change", args=[key.pk])).content.decode()
    assert SECRET not in page and WEBHOOK_SECRET not in page
    assert "••••7a7b" in page
    assert f"/webhooks/{key.webhook_uuid}/" in page
    listing = admin_client.get(reverse("admin:providers_apikey_changelist")).content.decode()
    assert SECRET not in listing and "••••7a7b" in listing


@pytest.mark.django_db
def test_it_requires_the_secret_when_adding(admin_client):
    response = admin_client.post(reverse("admin:providers_apikey_add"), form_data(secret=""))
    assert response.status_code == 200
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_it_does_not_echo_the_secret_on_a_form_error(admin_client):
    response = admin_client.post(reverse("admin:providers_apikey_add"), form_data(base_url="not a url"))
    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_it_keeps_the_secret_when_left_empty(admin_client):
    admin_client.post(reverse("admin:providers_apikey_add"), form_data())
    key = ApiKey.objects.get()
    response = admin_client.post(reverse("admin:providers_apikey_change", args=[key.pk]),
                                 form_data(secret="", webhook_secret="", rpm_limit=50))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.secret == SECRET and key.webhook_secret == WEBHOOK_SECRET
    assert key.rpm_limit == 50


@pytest.mark.django_db
def test_it_replaces_the_secret(admin_client):
    admin_client.post(reverse("admin:providers_apikey_add"), form_data())
    key = ApiKey.objects.get()
    admin_client.post(reverse("admin:providers_apikey_change", args=[key.pk]),
                      form_data(secret="sk-new-secret-9999", webhook_secret=""))
    key.refresh_from_db()
    assert key.secret == "sk-new-secret-9999" and key.secret_last4 == "9999"


@pytest.mark.django_db
def test_it_rejects_a_webhook_secret_without_whsec(admin_client):
    response = admin_client.post(reverse("admin:providers_apikey_add"), form_data(webhook_secret="plain"))
    assert b"starts with whsec_" in response.content
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_it_does_not_overwrite_what_workers_changed(admin_client):
    admin_client.post(reverse("admin:providers_apikey_add"), form_data())
    key = ApiKey.objects.get()
    url = reverse("admin:providers_apikey_change", args=[key.pk])
    admin_client.get(url)
    # while the admin has the form open, a worker marks the key out of credit
    key.mark_out_of_credit("insufficient_quota")
    admin_client.post(url, form_data(secret="", webhook_secret="", rpm_limit=30))
    key.refresh_from_db()
    assert key.rpm_limit == 30
    assert key.state == KeyState.OUT_OF_CREDIT
    assert key.last_error == "insufficient_quota"


@pytest.mark.django_db
def test_it_changes_state_through_actions(admin_client):
    admin_client.post(reverse("admin:providers_apikey_add"), form_data())
    key = ApiKey.objects.get()
    key.mark_out_of_credit("insufficient_quota")
    changelist = reverse("admin:providers_apikey_changelist")
    admin_client.post(changelist, {"action": "enable_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.state == KeyState.ACTIVE
    admin_client.post(changelist, {"action": "drain_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.state == KeyState.DRAINING
    admin_client.post(changelist, {"action": "disable_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.state == KeyState.DISABLED
