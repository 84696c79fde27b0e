"""The pipeline's answer to each kind of trouble, one step at a time in this process against sorasim over
HTTP: the fault matrix runs the same code in a real worker; these pin each rule down where it can be seen."""

from datetime import timedelta

import pytest
from django.utils import timezone

from providers import limiter
from providers.models import KeyState
from quotas.models import Reservation
from renders import lifecycle, pipeline, reconcile, timing
from renders.models import EventKind, Render, WebhookDelivery
from renders.states import Status
from tests.fixtures.sorasim import API_KEY
from tests.fixtures.waits import step_until
from tests.fixtures.world import submit

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Policy", members={}),
              pytest.mark.sim_key(can_remix_by_create=False)]


def test_a_stale_message_cannot_cut_a_backoff_short(alice, project, sim_key):
    render = submit(alice, project)
    first_message = timing.due_token(render.next_attempt_at)
    sim_key.control.patch_faults(error_rate=1.0, error_endpoints=["create"])
    pipeline.send_create(render.pk, first_message)
    render.refresh_from_db()
    assert (render.status, render.attempts) == (Status.WAITING, 1)  # a 5xx: backing off before try 2
    sim_key.control.patch_faults(error_rate=0.0)
    pipeline.send_create(render.pk, first_message)  # a duplicate of the first message, delivered late
    render.refresh_from_db()
    assert render.status == Status.WAITING and render.heartbeat_at is None
    assert sim_key.control.counters(API_KEY)["creates_attempted"] == 1
    pipeline.send_create(render.pk, timing.due_token(render.next_attempt_at))  # the dispatcher's, when due
    render.refresh_from_db()
    assert render.provider_video_id and sim_key.control.counters(API_KEY)["creates_attempted"] == 2


def test_the_reconciler_never_fails_a_render_that_another_pass_just_adopted(alice, project, sim_key, settings):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 0
    settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS = 0
    sim_key.control.patch_faults(drop_create_response_rate=1.0)
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    sim_key.control.patch_faults(drop_create_response_rate=0.0)
    seen_by_a_slower_pass = Render.objects.get(pk=render.pk)
    assert seen_by_a_slower_pass.outcome_unknown
    reconcile.settle_unknown_outcomes()  # this pass finds the job and adopts it
    render.refresh_from_db()
    assert render.provider_video_id
    # the slower pass listed before the adoption, found no free job, and is past the give-up time
    assert reconcile.give_up(seen_by_a_slower_pass) is False
    render.refresh_from_db()
    assert render.status != Status.FAILED and render.provider_video_id
    assert Reservation.objects.get(render=render).state == Reservation.State.HELD


def test_a_key_refused_while_its_job_runs_makes_the_job_wait_for_the_key_not_fail(alice, project, sim_key, settings):
    settings.RENDER_KEY_RETRY_SECONDS = 30
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    sim_key.control.set_key(API_KEY, valid=False)  # revoked while the job runs at the provider
    for _ in range(settings.RENDER_MAX_ATTEMPTS + 1):
        pipeline.poll(render.pk)
    render.refresh_from_db()
    sim_key.refresh_from_db()
    assert sim_key.state == KeyState.INVALID
    assert render.status in (Status.QUEUED, Status.IN_PROGRESS) and render.attempts == 0
    assert render.next_attempt_at - timezone.now() > timedelta(seconds=20)  # waits for the key, not a backoff
    assert render.events.filter(kind=EventKind.WAIT, message__contains="refused the key").count() == 1

    sim_key.control.set_key(API_KEY, valid=True)
    sim_key.reactivate()  # an admin fixed the key
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    sim_key.control.set_key(API_KEY, valid=False)
    for _ in range(settings.RENDER_MAX_ATTEMPTS + 1):
        pipeline.download(render.pk)
    render.refresh_from_db()
    assert (render.status, render.attempts) == (Status.DOWNLOADING, 0)  # billed: it waits, never "download failed"
    sim_key.control.set_key(API_KEY, valid=True)
    sim_key.reactivate()
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED and render.api_key == sim_key
    assert sim_key.control.counters(API_KEY)["creates_attempted"] == 1


def test_a_job_past_its_deadline_fails_in_plain_words_and_is_refunded(alice, project, sim_key, settings):
    # the fault matrix keeps this bound long (a slow render is not a stuck one); here it is reached at once
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    settings.RENDER_TRACK_DEADLINE_SECONDS = 0
    pipeline.poll(render.pk)
    render.refresh_from_db()
    assert (render.status, render.error_code) == (Status.FAILED, "deadline")
    assert render.error_message == lifecycle.plain_error("deadline")
    assert Reservation.objects.get(render=render).state == Reservation.State.REFUNDED
    assert limiter.jobs_in_flight(sim_key.pk) == 0


def test_a_key_paused_by_a_429_makes_a_new_render_wait_for_the_pause_plus_jitter(alice, project, sim_key, settings):
    settings.RENDER_KEY_RETRY_SECONDS = 60
    paused_until = limiter.pause(sim_key.pk, 5, "rate limited")
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    late = (render.next_attempt_at - paused_until).total_seconds()
    assert render.status == Status.WAITING and 0 <= late <= 0.5  # the pause and a jitter, not the key retry (60 s)
    assert "rate limit" in render.events.filter(kind=EventKind.WAIT).get().message
    assert sim_key.control.counters(API_KEY)["creates_attempted"] == 0


def test_a_webhook_fetch_that_is_rate_limited_pauses_the_key_for_every_worker(alice, project, sim_key):
    sim_key.control.set_key("sk-policy-rate", rpm=1)
    sim_key.secret = "sk-policy-rate"
    sim_key.save()
    render = submit(alice, project)
    pipeline.send_create(render.pk)  # the one request of this minute
    render.refresh_from_db()
    delivery = WebhookDelivery.objects.create(api_key=sim_key, webhook_id="wh_policy_1", event_type="video.completed",
                                              video_id=render.provider_video_id)
    pipeline.apply_webhook(delivery.pk)
    sim_key.refresh_from_db()
    render.refresh_from_db()
    assert sim_key.state == KeyState.RATE_LIMITED and sim_key.paused_until > timezone.now()
    assert render.next_attempt_at >= sim_key.paused_until - timedelta(seconds=1)  # polls after the pause
    assert render.events.filter(kind=EventKind.RETRY, message__contains="polling instead").exists()


def test_a_freed_job_slot_sends_the_create_of_the_render_that_waits_longest(
        alice, project, sim_key, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.RENDER_KEY_RETRY_SECONDS = 60
    sent = []
    monkeypatch.setattr("renders.tasks.create_render.delay", lambda pk, due=None: sent.append((pk, due)))
    monkeypatch.setattr("renders.tasks.download_render.delay", lambda pk, due=None: None)
    sim_key.max_concurrent = 1
    sim_key.save()
    running = submit(alice, project)
    pipeline.send_create(running.pk)
    waiting = [submit(alice, project, prompt=f"fox {n}") for n in range(2)]
    for render in waiting:
        pipeline.send_create(render.pk)
        render.refresh_from_db()
        assert render.status == Status.WAITING and render.next_attempt_at > timezone.now() + timedelta(seconds=50)
    first, second = waiting  # the first has waited longer (its last look is older)
    with django_capture_on_commit_callbacks(execute=True):
        step_until(running, {Status.DOWNLOADING}, pipeline.poll)  # its job slot is free now
    first.refresh_from_db()
    second.refresh_from_db()
    assert sent == [(first.pk, timing.due_token(first.next_attempt_at))]  # sent at once, not 60 s later
    assert second.next_attempt_at > timezone.now() + timedelta(seconds=50)
    pipeline.send_create(*sent[0])
    first.refresh_from_db()
    assert first.provider_video_id and first.api_key == sim_key


def test_a_download_starts_over_the_part_file_a_killed_worker_left(alice, project, sim_key, settings, tmp_path):
    settings.RENDER_DOWNLOAD_DIR = tmp_path / "downloads"
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    render.fence = "a1killed"  # the claim token of the attempt that was killed
    left = pipeline.part_file(render, "video")
    left.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"half a video" * 1000)  # what a SIGKILL mid-download leaves
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED
    assert abs(pipeline.stored_duration(render.video) - 4) < 0.2  # the stored file is the whole video
    assert not list(settings.RENDER_DOWNLOAD_DIR.iterdir())  # no part file left behind


def test_dispatch_with_the_broker_down_keeps_the_render_due(alice, project, sim_key, settings, redis_server,
                                                           monkeypatch):
    from soraweb.celery import app

    settings.RENDER_DISPATCH_LEASE_SECONDS = 60
    render = submit(alice, project)
    Render.objects.filter(pk=render.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    due = Render.objects.get(pk=render.pk).next_attempt_at
    monkeypatch.setattr(app.conf, "broker_url", redis_server.url())
    monkeypatch.setitem(app.conf, "broker_transport", None)  # the embedded broker's transport would win over the URL
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    redis_server.stop()
    assert pipeline.dispatch_due() == 0  # no exception: the broker is down
    render.refresh_from_db()
    assert render.next_attempt_at == due  # still due at the next tick, not a lease later
    redis_server.start()
    assert pipeline.dispatch_due() == 1
    render.refresh_from_db()
    assert render.next_attempt_at > timezone.now() + timedelta(seconds=50)


@pytest.mark.django_db(transaction=True)
def test_a_submit_while_the_broker_is_down_still_creates_the_render(alice, project, settings, redis_server,
                                                                   monkeypatch):
    from soraweb.celery import app

    monkeypatch.setattr(app.conf, "broker_url", redis_server.url())
    monkeypatch.setitem(app.conf, "broker_transport", None)  # the embedded broker's transport would win over the URL
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    redis_server.stop()
    render = submit(alice, project)  # the enqueue after the commit fails, and is only logged
    render.refresh_from_db()
    assert render.status == Status.SUBMITTING
    assert render.next_attempt_at > timezone.now()  # the dispatcher sends it after the lease
    assert Reservation.objects.get(render=render).state == Reservation.State.HELD


def test_a_started_beat_has_every_entry_due_and_no_schedule_file(settings, tmp_path, monkeypatch):
    from soraweb.celery import HeartbeatScheduler, app

    monkeypatch.chdir(tmp_path)
    scheduler = HeartbeatScheduler(app=app)
    try:
        entries = {name: entry for name, entry in scheduler.schedule.items() if name in settings.CELERY_BEAT_SCHEDULE}
        assert set(entries) == set(settings.CELERY_BEAT_SCHEDULE)
        # the hourly housekeeping too: a beat restarted every few minutes would otherwise never reach it
        assert all(entry.is_due().is_due for entry in entries.values()), {
            name: entry.is_due() for name, entry in entries.items()}
    finally:
        scheduler.close()
    assert list(tmp_path.iterdir()) == []  # nothing written: no shelve file to lock


def test_beat_keeps_ticking_when_the_cache_is_down(settings, caplog):
    from soraweb.celery import HeartbeatScheduler, app
    from tests.fixtures.processes import free_port

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}  # nothing listens there
    scheduler = HeartbeatScheduler(app=app)
    scheduler.schedule.clear()  # nothing due: the tick sends no task, it only stamps (and survives the outage)
    try:
        assert scheduler.tick() > 0  # an exception here would end beat (and with it dispatch and reconcile)
    finally:
        scheduler.close()
    assert "could not stamp its heartbeat" in caplog.text


UNREACHABLE = "http://127.0.0.1:1/v1"  # nothing listens on port 1: the connection is refused, nothing is sent


def test_a_create_waits_for_an_unreachable_provider_without_using_up_its_tries(alice, project, sim_key, settings):
    settings.RENDER_MAX_ATTEMPTS = 2
    render = submit(alice, project)
    sim_key.base_url = UNREACHABLE
    sim_key.save(update_fields=["base_url"])
    for _ in range(4):  # more than RENDER_MAX_ATTEMPTS: a provider restarting is not the render's fault
        pipeline.send_create(render.pk)
        render.refresh_from_db()
        assert (render.status, render.attempts, render.api_key) == (Status.WAITING, 0, None)
        Render.objects.filter(pk=render.pk).update(next_attempt_at=None)
    assert "could not be reached" in render.events.filter(kind=EventKind.RETRY).last().message

    Render.objects.filter(pk=render.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.RENDER_MAX_KEY_WAIT_SECONDS + 1))
    pipeline.send_create(render.pk)  # as long as a render waits for a usable key, and no longer
    render.refresh_from_db()
    assert (render.status, render.error_code) == (Status.FAILED, "provider_unavailable")
    assert not Reservation.objects.filter(render=render, state=Reservation.State.HELD).exists()


def test_a_download_waits_for_an_unreachable_provider_until_its_assets_expire(alice, project, sim_key, settings):
    settings.RENDER_MAX_ATTEMPTS = 2
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    assert render.provider_expires_at
    reachable = sim_key.base_url
    sim_key.base_url = UNREACHABLE
    sim_key.save(update_fields=["base_url"])
    for _ in range(3):
        Render.objects.filter(pk=render.pk).update(next_attempt_at=None)
        pipeline.download(render.pk)
        render.refresh_from_db()
        assert (render.status, render.attempts) == (Status.DOWNLOADING, 0)
    assert render.events.filter(kind=EventKind.WAIT, message__contains="could not be reached").count() == 1

    sim_key.base_url = reachable
    sim_key.save(update_fields=["base_url"])
    Render.objects.filter(pk=render.pk).update(next_attempt_at=None)
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED
