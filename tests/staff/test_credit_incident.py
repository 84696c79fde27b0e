"""Out of credit end to end, with a real worker (beat embedded), Redis, PostgreSQL and sorasim over HTTP: the
pipeline marks the key, the periodic sweep opens ONE incident and emails staff ONCE (console backend: the
worker's output), staff see the banner, the author sees "waiting for credit", and the top-up acknowledged on
the key's page resumes the render, which completes on that key."""

import pytest
from django.test import Client
from django.urls import reverse

from providers.models import ApiKey, KeyIncident, KeyState
from renders.states import Status
from tests.fixtures.sorasim import API_KEY
from tests.fixtures.waits import wait_for, wait_status
from tests.fixtures.world import submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

EMAIL_LINE = "You get one email per incident"


def test_out_of_credit_then_topped_up(alice, project, staff, sorasim_shared, start_worker):
    sim = sorasim_shared
    sim.control.set_key(API_KEY, credit_usd=0)
    key = ApiKey(name="sorasim", base_url=sim.api_url, has_webhooks=False, rpm_limit=0, max_concurrent=0)
    key.secret = API_KEY
    key.save()
    # the incident sweep every half second; the key retry slow, so the top-up, not the retry, resumes the render
    worker = start_worker(KEY_INCIDENT_SWEEP_SECONDS="0.5", RENDER_KEY_RETRY_SECONDS="600")

    render = submit(alice, project)
    wait_for(lambda: KeyIncident.objects.filter(key=key, emailed_at__isnull=False).exists(),
             what="the incident's email", worker=worker)
    key.refresh_from_db()
    render.refresh_from_db()
    assert key.state == KeyState.OUT_OF_CREDIT and render.status == Status.WAITING

    staff_client, author = Client(), Client()
    staff_client.force_login(staff)
    author.force_login(alice)
    assert "Provider key “sorasim” is out of credit" in staff_client.get(reverse("project_list")).content.decode()
    assert "1 of your renders in Trailer is waiting for credit" in author.get(reverse("usage")).content.decode()

    sim.control.top_up(API_KEY, 5)
    response = staff_client.post(reverse("staff_key_top_up", kwargs={"key_id": key.pk}), follow=True)
    assert "1 waiting render(s) resumed" in response.content.decode()
    wait_status(render, Status.COMPLETED, worker=worker)

    assert render.api_key_id == key.pk and render.charged_usd > 0
    incident = KeyIncident.objects.get(key=key)
    assert incident.resolved_at is not None and incident.resolved_by == staff
    wait_for(lambda: EMAIL_LINE in worker.log(), what="the email in the worker's output")
    assert worker.log().count(EMAIL_LINE) == 1
    assert "waiting for credit" not in author.get(reverse("usage")).content.decode()
    assert sim.control.counters(API_KEY)["creates_accepted"] == 1
