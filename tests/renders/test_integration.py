"""End to end: a real Celery worker (with beat), real Redis, real PostgreSQL, sorasim over HTTP, and
webhooks from sorasim to the app through pytest-django's live_server."""

import os

import pytest

from quotas.models import Reservation
from renders import actions
from renders.models import EventKind, Render, WebhookDelivery
from renders.states import Status
from tests.fixtures.sorasim import API_KEY, make_sim_key
from tests.fixtures.waits import wait_for, wait_status
from tests.fixtures.world import submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RETRIEVE = "GET /v1/videos/{video_id} 200"


def assert_stored(render):
    for field in (render.video, render.thumbnail, render.spritesheet):
        assert field and os.path.getsize(field.path) > 0
    assert abs(float(render.delivered_seconds) - render.seconds) < 0.3
    assert Reservation.objects.get(render=render).state == Reservation.State.SETTLED


def test_it_completes_with_webhooks_and_exactly_one_retrieve(alice, project, sim, live_server, start_worker):
    key = make_sim_key(sim, live_server)
    # polling set beyond the test's length: only the webhook can tell the worker the job is done
    worker = start_worker(SITE_URL=live_server.url, RENDER_POLL_WITH_WEBHOOKS_SECONDS="600")
    render = submit(alice, project)
    wait_status(render, Status.COMPLETED, worker=worker)
    assert_stored(render)
    counters = sim.control.counters(API_KEY)
    assert counters["requests"].get(RETRIEVE) == 1, counters["requests"]
    assert counters["creates_accepted"] == 1
    delivery = WebhookDelivery.objects.get(render=render)
    assert delivery.applied_at is not None and delivery.event_type == "video.completed"
    webhook_event = render.events.get(kind=EventKind.WEBHOOK)
    assert delivery.webhook_id in webhook_event.message
    moved = render.events.get(status_to=Status.DOWNLOADING)
    assert moved.source == "webhook"
    assert render.api_key == key


def test_it_completes_by_polling_only(alice, project, sim, start_worker):
    make_sim_key(sim)
    worker = start_worker()
    render = submit(alice, project)
    wait_status(render, Status.COMPLETED, worker=worker)
    assert_stored(render)
    assert render.events.get(status_to=Status.DOWNLOADING).source == "poll"
    assert not WebhookDelivery.objects.exists()
    counters = sim.control.counters(API_KEY)
    assert counters["creates_attempted"] == 1
    assert counters["requests"].get(RETRIEVE, 0) >= 1


def test_a_remix_completes_and_links_to_its_parent(alice, bob, project, sim, live_server, start_worker):
    key = make_sim_key(sim, live_server)
    worker = start_worker(SITE_URL=live_server.url)
    parent = submit(alice, project)
    wait_status(parent, Status.COMPLETED, worker=worker)
    child = actions.submit(bob, project, prompt="the same fox, now at night", remix_of=parent)
    wait_status(child, Status.COMPLETED, worker=worker)
    assert_stored(child)
    assert child.remix_of == parent and child.api_key == key
    assert list(parent.remixes.all()) == [child]
    job = sim.control.video(child.provider_video_id)
    assert parent.provider_video_id in str(job)
    assert sim.control.counters(API_KEY)["creates_accepted"] == 2


@pytest.mark.slow(30)
def test_an_early_webhook_is_kept_and_applied_when_a_render_takes_its_video(
        alice, project, sim, live_server, start_worker):
    make_sim_key(sim, live_server)
    # the create's answer is lost (the job exists at the provider); its webhook arrives before the reconciler
    # has adopted the job (the 1 s job's webhook comes some 14 s before the adoption), so no render has that video
    # id yet
    sim.control.patch_faults(drop_create_response_rate=1.0)
    worker = start_worker(SITE_URL=live_server.url, RENDER_RECONCILE_AFTER_SECONDS="15",
                          RENDER_POLL_WITH_WEBHOOKS_SECONDS="600")
    render = submit(alice, project)
    delivery = wait_for(lambda: WebhookDelivery.objects.filter(event_type="video.completed").first(), timeout=30,
                        what="the webhook")
    render.refresh_from_db()
    assert render.provider_video_id == "" and render.status == Status.SENDING  # early: nobody owns the video
    assert delivery.applied_at is None
    sim.control.patch_faults(drop_create_response_rate=0.0)
    wait_status(render, Status.COMPLETED, worker=worker)
    # the kept delivery is applied once the reconciler's adoption gives the render its video id
    wait_for(lambda: WebhookDelivery.objects.filter(pk=delivery.pk, render=render).exists(), timeout=20,
             what="the kept webhook to be applied")
    delivery.refresh_from_db()
    assert delivery.applied_at > delivery.received_at
    assert render.provider_video_id == delivery.video_id
    adopted = render.events.get(kind=EventKind.ADOPTED)
    webhook = render.events.get(kind=EventKind.WEBHOOK)
    assert delivery.webhook_id in webhook.message and webhook.created_at > adopted.created_at
    counters = sim.control.counters(API_KEY)
    assert (counters["creates_attempted"], counters["creates_accepted"]) == (1, 1)  # never sent twice


def test_cancel_before_the_create_and_delete_after_completion(alice, project, sim, live_server, start_worker):
    key = make_sim_key(sim, live_server)
    key.state = "disabled"  # no usable key: the render waits before its create
    key.save()
    worker = start_worker(SITE_URL=live_server.url)
    waiting = submit(alice, project)
    wait_status(waiting, Status.WAITING, worker=worker)
    actions.cancel(waiting, alice)
    key.state = "active"
    key.save()
    done = submit(alice, project, prompt="a second fox")
    wait_status(done, Status.COMPLETED, worker=worker)
    waiting.refresh_from_db()
    assert waiting.status == Status.CANCELED
    assert Reservation.objects.get(render=waiting).state == Reservation.State.REFUNDED
    assert sim.control.counters(API_KEY)["creates_attempted"] == 1  # only the second render was sent

    paths = [done.video.path, done.thumbnail.path, done.spritesheet.path]
    actions.delete(done, alice)
    wait_for(lambda: not any(os.path.exists(p) for p in paths), timeout=30, what="the files to be removed")
    done.refresh_from_db()
    assert done.deleted_at is not None and not done.video
    assert Render.objects.filter(pk=done.pk).exists()  # soft: the row and its events stay
    assert done.events.filter(kind=EventKind.DELETED).exists()


@pytest.mark.slow(25)
def test_a_render_of_a_killed_worker_is_resumed_after_a_restart(alice, project, sim, live_server, start_worker):
    """The worker is killed (SIGKILL) while it downloads; after a restart the reaper sees the quiet heartbeat
    and resumes the download (not the create): the render completes, billed once."""
    make_sim_key(sim, live_server)
    # each file's download waits 10 s at sorasim: the kill lands well inside the first
    sim.control.patch_faults(latency_ms=10_000, latency_endpoints=["content"])
    worker = start_worker(SITE_URL=live_server.url, RENDER_HEARTBEAT_STALE_SECONDS="4")
    render = submit(alice, project)
    wait_status(render, Status.DOWNLOADING, worker=worker)
    wait_for(lambda: Render.objects.filter(pk=render.pk, heartbeat_at__isnull=False).exists(), timeout=20,
             every=0.05, what="the download to start")
    worker.kill()
    render.refresh_from_db()
    assert render.status == Status.DOWNLOADING and render.heartbeat_at is not None
    sim.control.patch_faults(latency_ms=0)
    worker.restart()
    wait_status(render, Status.COMPLETED, worker=worker)
    assert_stored(render)
    assert render.events.filter(kind=EventKind.RETRY, source="reconciler", message__contains="quiet").exists()
    assert sim.control.counters(API_KEY)["creates_accepted"] == 1
