"""The reconciler: resumes work whose worker went quiet, settles unknown outcomes, expires unstored assets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from providers import limiter
from quotas.models import Reservation
from renders import reconcile
from renders.models import EventKind, Render
from renders.states import Status

pytestmark = [pytest.mark.django_db, pytest.mark.key(has_webhooks=True)]


def ago(seconds):
    return timezone.now() - timedelta(seconds=seconds)


def test_it_resumes_a_render_whose_worker_went_quiet(make_render, key, settings):
    settings.RENDER_HEARTBEAT_STALE_SECONDS = 60
    quiet = make_render(Status.DOWNLOADING, api_key=key, provider_video_id="video_1", heartbeat_at=ago(61))
    alive = make_render(Status.DOWNLOADING, api_key=key, provider_video_id="video_2", heartbeat_at=ago(5))
    assert reconcile.reap_quiet() == 1
    quiet.refresh_from_db()
    alive.refresh_from_db()
    assert quiet.heartbeat_at is None and quiet.next_attempt_at <= timezone.now()
    assert quiet.events.filter(kind=EventKind.RETRY, source="reconciler").exists()
    assert alive.heartbeat_at is not None and alive.next_attempt_at is None


def test_a_quiet_create_is_never_resent_but_left_to_the_list(make_render, key, settings):
    settings.RENDER_HEARTBEAT_STALE_SECONDS = 60
    render = make_render(Status.SENDING, api_key=key, create_sent_at=ago(70), heartbeat_at=ago(70))
    reconcile.reap_quiet()
    render.refresh_from_db()
    assert render.status == Status.SENDING  # not back to waiting: the POST may have left
    assert render.error_code == "outcome_unknown" and render.heartbeat_at is None
    assert render.next_attempt_at is None


def test_a_quiet_render_that_has_its_video_id_is_tracked(make_render, key, settings):
    settings.RENDER_HEARTBEAT_STALE_SECONDS = 60
    render = make_render(Status.SENDING, api_key=key, create_sent_at=ago(70), heartbeat_at=ago(70),
                         provider_video_id="video_9")
    reconcile.reap_quiet()
    render.refresh_from_db()
    assert render.status == Status.QUEUED and render.next_attempt_at is not None


def test_it_gives_up_an_unknown_outcome_after_the_set_time_and_refunds(submitted_render, key, settings, monkeypatch):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 10
    settings.RENDER_RECONCILE_GIVE_UP_SECONDS = 100
    assert limiter.acquire_job_slot(key.pk)
    Render.objects.filter(pk=submitted_render.pk).update(status=Status.SENDING, api_key=key, create_sent_at=ago(101),
                                                  job_slot_held=True, error_code="outcome_unknown")

    class EmptyList:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def list(self, **kw):
            return iter(())

    # the provider's list is the edge we do not own here: it has no matching job
    monkeypatch.setattr("providers.models.ApiKey.client", lambda self, **kw: EmptyList())
    reconcile.settle_unknown_outcomes()
    submitted_render.refresh_from_db()
    assert (submitted_render.status, submitted_render.error_code) == (Status.FAILED, "outcome_unknown")
    assert Reservation.objects.get(render=submitted_render).state == Reservation.State.REFUNDED
    assert limiter.jobs_in_flight(key.pk) == 0


def test_without_a_list_endpoint_it_never_lists_and_gives_up_after_the_set_time(make_render, key, settings,
                                                                                 monkeypatch):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 10
    settings.RENDER_RECONCILE_GIVE_UP_SECONDS = 100
    key.has_list_endpoint = False
    key.save()
    late = make_render(Status.SENDING, api_key=key, create_sent_at=ago(101), error_code="outcome_unknown")
    recent = make_render(Status.SENDING, api_key=key, create_sent_at=ago(50), error_code="outcome_unknown")

    def no_list(self, **kw):
        raise AssertionError("a key without a list endpoint was listed")

    monkeypatch.setattr("providers.models.ApiKey.client", no_list)
    assert reconcile.settle_unknown_outcomes() == 1
    late.refresh_from_db()
    recent.refresh_from_db()
    assert (late.status, late.error_code) == (Status.FAILED, "outcome_unknown")
    assert recent.status == Status.SENDING  # a webhook may still bring its job's id


def test_it_fails_renders_whose_assets_expired_unstored(submitted_render, key):
    Render.objects.filter(pk=submitted_render.pk).update(status=Status.DOWNLOADING, api_key=key,
                                                  provider_video_id="video_1", provider_expires_at=ago(1))
    assert reconcile.expire_unstored() == 1
    submitted_render.refresh_from_db()
    assert (submitted_render.status, submitted_render.error_code) == (Status.FAILED, "expired")
    assert "expired" in submitted_render.error_message
    assert Reservation.objects.get(render=submitted_render).state == Reservation.State.REFUNDED


def test_it_gives_a_next_attempt_to_renders_nobody_holds(make_render, key):
    lost = make_render(Status.QUEUED, api_key=key, provider_video_id="video_1")
    unknown = make_render(Status.SENDING, api_key=key, create_sent_at=ago(5))
    assert reconcile.reschedule_orphans() == 1
    lost.refresh_from_db()
    unknown.refresh_from_db()
    assert lost.next_attempt_at is not None
    assert unknown.next_attempt_at is None  # an open outcome is the list's to settle, never a new create


def test_it_resynchronises_the_keys_slot_counter(make_render, key):
    make_render(Status.QUEUED, api_key=key, provider_video_id="video_1", job_slot_held=True)
    for _ in range(3):
        limiter.acquire_job_slot(key.pk)  # two leaked by a killed worker
    reconcile.resync_job_slots()
    assert limiter.jobs_in_flight(key.pk) == 1
