"""Renders see only canonical statuses: a job the provider deleted (`expired`) before its video was stored fails
the render in plain words and refunds it; after, nothing changes. And a render on a new-api relay key (status
words of its own, `task_id`, content by redirect) runs to the end like any other. In-process against sorasim."""

import uuid

import pytest

from providers.client import Video
from providers.models import ApiKey
from quotas.models import Reservation
from renders import lifecycle, pipeline
from renders.states import Status
from tests.fixtures.waits import step_until, wait_for
from tests.fixtures.world import submit

pytestmark = pytest.mark.django_db

DELETED = "The video expired at the provider before it could be stored."


def sent_and_finished_at_the_provider(alice, project, sim_key, dialect=None):
    if dialect:  # a gateway's dialect: its retrieve says `expired` once the assets are gone
        sim_key.sim.control.set_key(sim_key.secret, dialect=dialect)
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status in (Status.QUEUED, Status.IN_PROGRESS)
    sim_key.sim.control.advance_video(render.provider_video_id, 100)
    with sim_key.client() as client:
        wait_for(lambda: client.retrieve(render.provider_video_id).status == "completed", 30, "the job to complete")
    return render


def test_a_job_expired_before_the_render_stored_it_fails_the_render_in_plain_words(alice, project, sim_key):
    render = sent_and_finished_at_the_provider(alice, project, sim_key, dialect="newapi")
    sim_key.sim.control.expire_video(render.provider_video_id)
    pipeline.poll(render.pk)  # the poll sees `expired`, never `completed`
    render.refresh_from_db()
    assert (render.status, render.error_code, render.error_message) == (Status.FAILED, "expired", DELETED)
    assert Reservation.objects.get(render=render).state == Reservation.State.REFUNDED
    assert not render.video


def test_a_job_expired_while_storing_fails_when_the_download_finds_it_gone(alice, project, sim_key):
    render = sent_and_finished_at_the_provider(alice, project, sim_key)
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    sim_key.sim.control.expire_video(render.provider_video_id)
    news = Video(id=render.provider_video_id, status="expired")
    assert not lifecycle.apply_video(render, news, source="poll")  # while storing, the download decides
    render.refresh_from_db()
    assert render.status == Status.DOWNLOADING
    pipeline.download(render.pk)  # the content answers 404 video_expired
    render.refresh_from_db()
    assert (render.status, render.error_code, render.error_message) == (Status.FAILED, "expired", DELETED)


def test_an_expiry_after_the_render_stored_its_video_changes_nothing(alice, project, sim_key):
    render = sent_and_finished_at_the_provider(alice, project, sim_key, dialect="newapi")
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED and render.video
    sim_key.sim.control.expire_video(render.provider_video_id)
    with sim_key.client() as client:
        news = client.retrieve(render.provider_video_id)
    assert news.status == "expired"
    assert not lifecycle.apply_video(render, news, source="poll")
    render.refresh_from_db()
    assert render.status == Status.COMPLETED and render.video and not render.error_code
    assert Reservation.objects.get(render=render).state == Reservation.State.SETTLED


def test_a_render_on_a_newapi_relay_key_runs_to_the_end(alice, project, sim_key):
    secret = f"sk-newapi-{uuid.uuid4().hex[:12]}"
    sim_key.sim.control.set_key(secret, dialect="newapi")
    sim_key.state = "disabled"  # the relay key is the only usable one
    sim_key.save()
    relay = ApiKey(name="relay", provider="new-api", base_url=sim_key.base_url, rpm_limit=0, max_concurrent=0)
    relay.secret = secret
    relay.save()
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.api_key == relay and render.provider_video_id.startswith("task_")  # from {"task_id": ...}
    assert render.status in (Status.QUEUED, Status.IN_PROGRESS)
    step_until(render, {Status.DOWNLOADING, Status.FAILED}, pipeline.poll)
    assert render.status == Status.DOWNLOADING, render.error_message
    pipeline.download(render.pk)  # the content comes by redirect to a signed path that refuses the key
    render.refresh_from_db()
    assert render.status == Status.COMPLETED, render.error_message
    assert render.video and render.thumbnail and render.spritesheet
    assert abs(float(render.delivered_seconds) - 4) < 0.2
