import pytest
from django.urls import reverse

from providers.audit import AuditEntry
from providers.models import ApiKey
from renders.states import Status
from tests.fixtures.world import WEBHOOK_SECRET
from tests.staff.conftest import key_form

pytestmark = pytest.mark.django_db


def test_it_adds_a_key_and_shows_its_secrets_only_as_last4(staff_client, staff, settings):
    response = staff_client.post(reverse("staff_key_add"), key_form())
    key = ApiKey.objects.get(name="Apifree")
    assert response.status_code == 302 and response["Location"] == reverse("staff_key", kwargs={"key_id": key.pk})
    assert key.secret == "sk-keyform-secret-9f8e" and key.webhook_secret == WEBHOOK_SECRET
    assert "sk-keyform-secret-9f8e" not in key.secret_encrypted

    page = staff_client.get(response["Location"]).content.decode()
    assert "sk-keyform-secret-9f8e" not in page and WEBHOOK_SECRET not in page
    assert "••••9f8e" in page and f"••••{WEBHOOK_SECRET[-4:]}" in page
    assert f"{settings.SITE_URL}/webhooks/{key.webhook_uuid}/" in page  # the URL to paste at the provider
    entry = AuditEntry.objects.get(action="key.added")
    assert entry.actor == staff and entry.target_id == key.pk and "••••9f8e" in entry.detail
    assert "sk-keyform" not in entry.detail


def test_it_never_echoes_a_secret_after_a_form_error(staff_client):
    response = staff_client.post(reverse("staff_key_add"), key_form(base_url="not a url"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "sk-keyform-secret-9f8e" not in page and WEBHOOK_SECRET not in page
    assert "Enter a valid URL" in page
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("field,value,message", [
    ("secret", "", "This field is required"),
    ("secret", "short", "does not look like an API key"),
    ("webhook_secret", "not-a-whsec", "starts with whsec_"),
    ("webhook_secret", "whsec_!!!", "base64"),
    ("webhook_secret", "", "Webhooks are signed"),
])
def test_it_explains_bad_input_and_saves_nothing(staff_client, field, value, message):
    response = staff_client.post(reverse("staff_key_add"), key_form(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_key_without_webhooks_needs_no_webhook_secret(staff_client):
    response = staff_client.post(reverse("staff_key_add"), key_form(webhook_secret="", has_webhooks=None))
    assert response.status_code == 302
    key = ApiKey.objects.get()
    assert not key.has_webhooks and key.webhook_secret == ""


def test_it_dedicates_the_key_to_projects(staff_client, project):
    staff_client.post(reverse("staff_key_add"), key_form(projects=[project.pk]))
    assert list(ApiKey.objects.get().projects.all()) == [project]


def test_renders_waiting_for_a_key_of_its_pool_look_again_at_once(staff_client, make_render):
    from datetime import timedelta

    from django.utils import timezone

    later = timezone.now() + timedelta(minutes=10)
    waiting = make_render(Status.WAITING, next_attempt_at=later)
    response = staff_client.post(reverse("staff_key_add"), key_form(), follow=True)
    assert "1 waiting render(s) will try it now" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.next_attempt_at <= timezone.now()


def test_the_form_page_shows_for_staff(staff_client, project):
    page = staff_client.get(reverse("staff_key_add")).content.decode()
    assert 'type="password"' in page and 'name="secret"' in page and "Trailer" in page
