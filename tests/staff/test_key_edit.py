import pytest
from django.urls import reverse

from providers import limiter
from providers.audit import AuditEntry
from providers.models import ApiKey, KeyState
from tests.staff.conftest import key_form

pytestmark = pytest.mark.django_db


def edit(client, key, **overrides):
    # the form as the page shows it for the key: every field as it is, secrets empty ("keep")
    data = key_form(name=key.name, provider=key.provider, base_url=key.base_url, secret="", webhook_secret="",
                    rpm_limit=key.rpm_limit, max_concurrent=key.max_concurrent,
                    has_webhooks="on" if key.has_webhooks else None,
                    can_remix_endpoint="on" if key.can_remix_endpoint else None)
    data.update(overrides)
    return client.post(reverse("staff_key_edit", kwargs={"key_id": key.pk}),
                       {k: v for k, v in data.items() if v is not None})


def test_it_changes_limits_capabilities_and_projects_keeping_the_secrets(staff_client, key, project, staff):
    response = edit(staff_client, key, rpm_limit=60, max_concurrent=2, can_remix_by_create="on",
                    can_remix_endpoint=None, projects=[project.pk])
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.rpm_limit, key.max_concurrent, key.can_remix_by_create, key.can_remix_endpoint) == (60, 2, True, False)
    assert list(key.projects.all()) == [project]
    assert key.secret == "sk-keyadmin-0001"  # empty means "keep"
    entries = {e.action: e for e in AuditEntry.objects.filter(target_id=key.pk)}
    assert "requests per minute: 25 → 60; jobs at once: 10 → 2; remix by endpoint: yes → no" in \
        entries["key.changed"].detail
    assert entries["key.changed"].actor == staff
    assert entries["key.projects"].detail == "now also serves: Trailer"


def test_it_replaces_a_secret_and_logs_only_its_last4(staff_client, key):
    edit(staff_client, key, secret="sk-replacement-key-4242")
    key.refresh_from_db()
    assert key.secret == "sk-replacement-key-4242" and key.masked_secret == "••••4242"
    entry = AuditEntry.objects.get(action="key.changed", target_id=key.pk)
    assert entry.detail == "API key replaced (now ••••4242)"


def test_it_never_writes_back_a_state_a_worker_changed_meanwhile(staff_client, key):
    # the page was loaded while the key was active; a worker marks it out of credit before the form is saved
    form_page = staff_client.get(reverse("staff_key_edit", kwargs={"key_id": key.pk}))
    assert form_page.status_code == 200
    ApiKey.objects.get(pk=key.pk).mark_out_of_credit("insufficient_quota")
    limiter.pause(key.pk, 60)
    edit(staff_client, key, rpm_limit=30)
    key.refresh_from_db()
    assert key.state == KeyState.OUT_OF_CREDIT and key.paused_until is not None and key.rpm_limit == 30


def test_a_bad_form_changes_nothing(staff_client, key):
    response = edit(staff_client, key, rpm_limit="-3", secret="sk-never-shown-5555")
    assert response.status_code == 400
    assert "sk-never-shown-5555" not in response.content.decode()
    key.refresh_from_db()
    assert key.rpm_limit == 25 and key.secret == "sk-keyadmin-0001"


def test_an_unchanged_form_says_so(staff_client, key):
    response = staff_client.post(reverse("staff_key_edit", kwargs={"key_id": key.pk}), {
        "name": key.name, "provider": key.provider, "base_url": key.base_url, "rpm_limit": 25, "max_concurrent": 10,
        "can_remix_endpoint": "on", "has_list_endpoint": "on"}, follow=True)
    assert "Nothing changed." in response.content.decode()
    assert not AuditEntry.objects.filter(action="key.changed").exists()
