"""Incidents: one email per incident to staff, whatever reruns; a new incident after the key worked again."""

import pytest
from django.core import mail

from providers import incidents, tasks
from providers.models import KeyIncident
from renders import keypool
from renders.states import Status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def staff_team(django_user_model, staff):
    django_user_model.objects.create_user("ops", "ops@example.org", "password", is_staff=True)
    django_user_model.objects.create_user("nomail", "", "password", is_staff=True)
    django_user_model.objects.create_user("gone", "gone@example.org", "password", is_staff=True, is_active=False)


def sweep_and_send(capture):
    """A sweep, then the emails it enqueued, as the worker would run them."""
    with capture(execute=True):
        return incidents.sweep()


def test_a_key_out_of_credit_gets_one_email_however_often_the_sweep_runs(key, staff_team, make_render,
                                                                         django_capture_on_commit_callbacks):
    make_render(Status.WAITING)
    key.mark_out_of_credit("OutOfCredit: You exceeded your current quota (HTTP 429, code=insufficient_quota)")
    assert sweep_and_send(django_capture_on_commit_callbacks)["opened"] == 1
    for _ in range(3):
        assert sweep_and_send(django_capture_on_commit_callbacks)["opened"] == 0
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.subject == "[soraweb] Provider key “main” is out of credit"
    assert sorted(email.to) == ["ops@example.org", "sam@example.org"]
    assert "1 render is waiting now" in email.body and "Top-up acknowledged" in email.body
    assert f"/staff/keys/{key.pk}/" in email.body
    assert "sk-keyadmin-0001" not in email.body


def test_a_new_incident_after_the_key_worked_again_gets_a_new_email(key, staff, django_capture_on_commit_callbacks):
    key.mark_invalid("401")
    sweep_and_send(django_capture_on_commit_callbacks)
    key.reactivate()
    assert sweep_and_send(django_capture_on_commit_callbacks)["closed"] == 1
    key.mark_out_of_credit("insufficient_quota")
    sweep_and_send(django_capture_on_commit_callbacks)
    assert [m.subject for m in mail.outbox] == ["[soraweb] Provider key “main” is invalid",
                                              "[soraweb] Provider key “main” is out of credit"]
    assert KeyIncident.objects.filter(key=key).count() == 2
    assert KeyIncident.objects.filter(key=key, resolved_at=None).count() == 1


def test_the_email_task_sends_at_most_once(key, staff):
    key.mark_invalid("401")
    incident = incidents.open_incident(key)
    assert tasks.email_key_incident(incident.pk) is True
    assert tasks.email_key_incident(incident.pk) is False  # a duplicate message
    assert len(mail.outbox) == 1


def test_a_mail_server_that_is_down_loses_nothing(key, staff, settings, django_capture_on_commit_callbacks):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}}}
    key.mark_invalid("401")
    incident = incidents.open_incident(key)
    assert incidents.send_email(incident.pk) is False
    incident.refresh_from_db()
    assert incident.emailed_at is None  # released: the next sweep tries again
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert sweep_and_send(django_capture_on_commit_callbacks)["emails_retried"] == 1
    assert len(mail.outbox) == 1


def test_a_second_opener_does_not_open_a_second_incident(key):
    key.mark_out_of_credit("insufficient_quota")
    assert incidents.open_incident(key) is not None
    assert incidents.open_incident(key) is None
    assert KeyIncident.objects.count() == 1


def test_the_periodic_task_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["providers-key-incidents"]
    assert entry["task"] == tasks.sweep_key_incidents.name


def test_credit_waits_names_the_project_of_renders_that_wait_for_a_broken_key(key, alice, bob, make_render, make_key):
    make_render(Status.WAITING)
    make_render(Status.WAITING)
    make_render(Status.WAITING, author=bob)
    key.mark_out_of_credit("insufficient_quota")
    [wait] = keypool.credit_waits(alice)
    assert wait["count"] == 2 and wait["out_of_credit"] and wait["project"].name == "Trailer"
    spare = make_key("spare", secret="sk-spare-key-0009")
    assert keypool.credit_waits(alice) == []  # another key of the pool takes renders: just a normal wait
    spare.disable()
    assert keypool.credit_waits(alice)[0]["count"] == 2


def test_a_rate_limited_key_in_the_pool_is_no_credit_wait(key, alice, make_render, make_key):
    from providers import limiter

    make_render(Status.WAITING)
    key.mark_out_of_credit("insufficient_quota")
    spare = make_key("spare", secret="sk-spare-key-0010")
    limiter.pause(spare.pk, 60, "rate limited")  # it comes back by itself in a minute
    assert keypool.credit_waits(alice) == []
