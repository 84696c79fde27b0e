"""A create refused because the model's deployment does not exist yet (Azure answers so for minutes after a
deployment is made): nothing was created, so the render waits and sends it again at a slow pace, goes through once
the deployment exists, and fails in plain words (refunded, nothing billed) if it never does. In-process against
sorasim speaking the azure dialect."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from quotas.models import Reservation
from renders import pipeline
from renders.models import EventKind
from renders.states import Status
from tests.fixtures.sorasim import dialect_key
from tests.fixtures.world import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def azure_key(sim):
    key = dialect_key(sim, "azure", path="/openai/v1", auth_header="api-key")
    sim.control.set_key(key.secret, deploying_seconds=600)
    sim.control.reset_counters(key.secret)
    return key


def test_the_render_waits_for_the_deployment_and_is_created_once_it_exists(alice, project, sim, azure_key, settings):
    render = submit(alice, project, model="sora-2-pro", size="1280x720")
    before = timezone.now()
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert (render.status, render.attempts, render.provider_video_id, render.create_sent_at) == (
        Status.WAITING, 1, "", None)
    wait = timedelta(seconds=settings.RENDER_DEPLOYMENT_RETRY_SECONDS)
    assert before + wait <= render.next_attempt_at <= timezone.now() + wait
    retry = render.events.filter(kind=EventKind.RETRY).get()
    assert "has no deployment of sora-2-pro yet (The API deployment 'sora-2-pro'" in retry.message

    sim.control.set_key(azure_key.secret, deploying_seconds=0)  # the deployment appears
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status in (Status.QUEUED, Status.IN_PROGRESS) and render.api_key == azure_key
    counters = sim.control.counters(azure_key.secret)
    assert (counters["creates_attempted"], counters["creates_accepted"]) == (2, 1)


def test_a_deployment_that_never_appears_fails_the_render_in_plain_words_and_refunds_it(
        alice, client, project, sim, azure_key, settings):
    settings.RENDER_DEPLOYMENT_RETRY_SECONDS = 30
    settings.RENDER_DEPLOYMENT_WAIT_SECONDS = 60
    render = submit(alice, project)
    for _ in range(3):  # tried at 0, 30 and 60 s: the third refusal is past the wait
        pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert (render.status, render.error_code) == (Status.FAILED, "deployment_not_found")
    assert render.error_message.startswith("The provider has no deployment of the chosen model")
    assert "The API deployment 'sora-2' for this resource does not exist" in render.error_message
    assert Reservation.objects.get(render=render).state == Reservation.State.REFUNDED
    assert sim.control.counters(azure_key.secret)["creates_accepted"] == 0
    client.force_login(alice)
    page = client.get(reverse("render_detail", kwargs={"project_id": project.pk, "render_id": render.pk}))
    assert "No deployment of this model" in page.content.decode()
