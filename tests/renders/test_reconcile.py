"""The reconciler: resumes work whose worker went quiet, settles unknown outcomes, expires unstored assets."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from providers import limiter
from quotas.models import LedgerEntry, Reservation
from renders import pipeline, reconcile, timeline
from renders.models import BillingIncident, EventKind, Render, WebhookDelivery
from renders.states import Status
from tests.fixtures.sorasim import API_KEY, make_sim_key
from tests.fixtures.waits import wait_for
from tests.fixtures.world import submit

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


class EmptyList:
    """The provider's list, an edge we do not own here: it has no job at all."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def list(self, **kw):
        return iter(())


def lost_create(render, key, sent_seconds_ago):
    """The render's create was sent that long ago and no answer came back (the worker let go of it)."""
    Render.objects.filter(pk=render.pk).update(status=Status.SENDING, api_key=key, create_sent_at=ago(sent_seconds_ago),
                                               job_slot_held=True, error_code="outcome_unknown")
    render.refresh_from_db()
    return render


def test_a_complete_listing_without_the_job_sends_the_render_again_with_its_reservation_kept(
        submitted_render, key, settings, monkeypatch):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 10
    settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS = 100
    settings.PROVIDER_TIMEOUT_SECONDS = 30
    assert limiter.acquire_job_slot(key.pk)
    monkeypatch.setattr("providers.models.ApiKey.client", lambda self, **kw: EmptyList())
    render = lost_create(submitted_render, key, 99)  # not long enough after the create: the listing proves nothing
    reconcile.settle_unknown_outcomes()
    render.refresh_from_db()
    assert (render.status, render.provider_video_id) == (Status.SENDING, "")

    render = lost_create(submitted_render, key, 101)
    reconcile.settle_unknown_outcomes()
    render.refresh_from_db()
    assert (render.status, render.api_key, render.create_sent_at, render.error_code) == (Status.WAITING, None, None, "")
    assert render.next_attempt_at <= timezone.now() and render.attempts == 1
    event = render.events.filter(kind=EventKind.RETRY, source="reconciler").get()
    assert "shows no job for this render 101 s after its create" in event.message
    assert "(attempt 1)" in event.message  # no create of this render was recorded as sent before
    assert Reservation.objects.get(render=render).state == Reservation.State.HELD
    assert limiter.jobs_in_flight(key.pk) == 0 and not BillingIncident.objects.exists()
    call_command("check_quotas")


def test_the_resend_waits_at_least_twice_the_clients_timeout(submitted_render, key, settings, monkeypatch):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 0
    settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS = 0
    settings.PROVIDER_TIMEOUT_SECONDS = 30
    monkeypatch.setattr("providers.models.ApiKey.client", lambda self, **kw: EmptyList())
    render = lost_create(submitted_render, key, 59)
    reconcile.settle_unknown_outcomes()
    render.refresh_from_db()
    assert render.status == Status.SENDING  # a create 59 s old may still land: 60 s at least
    render = lost_create(submitted_render, key, 61)
    reconcile.settle_unknown_outcomes()
    render.refresh_from_db()
    assert render.status == Status.WAITING


def test_after_the_last_attempt_it_gives_up_refunds_and_opens_an_incident(
        submitted_render, key, settings, monkeypatch):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 10
    settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS = 100
    settings.RENDER_MAX_ATTEMPTS = 3
    assert limiter.acquire_job_slot(key.pk)
    lost_create(submitted_render, key, 101)
    Render.objects.filter(pk=submitted_render.pk).update(attempts=2)  # two creates before this one
    monkeypatch.setattr("providers.models.ApiKey.client", lambda self, **kw: EmptyList())
    reconcile.settle_unknown_outcomes()
    submitted_render.refresh_from_db()
    assert (submitted_render.status, submitted_render.error_code) == (Status.FAILED, "outcome_unknown")
    reservation = Reservation.objects.get(render=submitted_render)
    assert reservation.state == Reservation.State.REFUNDED
    assert limiter.jobs_in_flight(key.pk) == 0
    # a complete listing found nothing, yet the provider may have made the job: staff reconcile it
    incident = BillingIncident.objects.get(render=submitted_render)
    assert (incident.api_key, incident.amount_cents, incident.resolved_at) == (key, reservation.cents, None)
    assert reservation.cents > 0
    call_command("check_quotas")


def test_without_a_list_endpoint_it_waits_for_staff_longer_then_fails_as_possibly_billed(
        submitted_render, make_render, key, settings, monkeypatch):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 10
    settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS = 100
    settings.RENDER_ADOPT_WAIT_SECONDS = 1000
    key.has_list_endpoint = False
    key.save()
    late = lost_create(submitted_render, key, 1001)
    waiting = make_render(Status.SENDING, api_key=key, create_sent_at=ago(500), error_code="outcome_unknown")

    def no_list(self, **kw):
        raise AssertionError("a key without a list endpoint was listed")

    monkeypatch.setattr("providers.models.ApiKey.client", no_list)
    assert reconcile.settle_unknown_outcomes() == 1
    late.refresh_from_db()
    waiting.refresh_from_db()
    assert (late.status, late.error_code) == (Status.FAILED, "outcome_unknown")
    assert "may have billed" in late.error_message  # not a silent refund
    assert late.events.get(status_to=Status.FAILED).message == late.error_message
    assert Reservation.objects.get(render=late).state == Reservation.State.REFUNDED
    assert BillingIncident.objects.get().render == late
    # past the list's give-up time but not the wait for staff: it still waits for its job id
    assert waiting.status == Status.SENDING and not BillingIncident.objects.filter(render=waiting).exists()
    call_command("check_quotas")


def test_a_second_pass_giving_up_the_same_render_opens_no_second_incident(submitted_render, key):
    render = lost_create(submitted_render, key, 1000)
    seen_by_a_slower_pass = Render.objects.get(pk=render.pk)
    assert reconcile.give_up(render) is True
    assert reconcile.give_up(seen_by_a_slower_pass) is False
    assert BillingIncident.objects.filter(render=render).count() == 1
    # and the constraint itself: one incident per render, whoever writes it
    assert BillingIncident.open_for(render).pk == BillingIncident.objects.get().pk
    with pytest.raises(IntegrityError), transaction.atomic():
        BillingIncident.objects.create(render=render, api_key=key, amount_cents=1)


@pytest.mark.django_db(transaction=True)
def test_two_passes_giving_up_at_once_fail_refund_and_open_the_incident_once(submitted_render, key):
    render = lost_create(submitted_render, key, 1000)
    barrier = threading.Barrier(2)
    results = []

    def give_up():
        try:
            seen = Render.objects.get(pk=render.pk)  # each pass read the render before either failed it
            barrier.wait()
            results.append(reconcile.give_up(seen))
        finally:
            connection.close()

    threads = [threading.Thread(target=give_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert BillingIncident.objects.filter(render=render).count() == 1
    assert LedgerEntry.objects.filter(render=render, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert render.events.filter(status_to=Status.FAILED).count() == 1
    call_command("check_quotas")


def test_a_lost_create_on_a_key_without_a_list_says_it_waits_for_a_webhook_or_staff(make_render, key, settings):
    settings.RENDER_HEARTBEAT_STALE_SECONDS = 60
    key.has_list_endpoint = False
    key.save()
    render = make_render(Status.SENDING, api_key=key, create_sent_at=ago(70), heartbeat_at=ago(70))
    reconcile.reap_quiet()
    note = render.events.get(kind=EventKind.ERROR)
    assert timeline.sentence(note) == ("A worker stopped while sending; waiting for the job's id from a webhook or "
                                       "from staff (it is never sent twice).")


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


@pytest.mark.django_db(transaction=True)
def test_without_a_list_a_webhook_of_the_lost_job_brings_its_id(alice, project, sim, live_server, settings):
    settings.RENDER_RECONCILE_AFTER_SECONDS = 0
    key = make_sim_key(sim, live_server, has_list_endpoint=False)  # the provider posts webhooks to live_server
    sim.control.patch_faults(drop_create_response_rate=1.0)
    render = submit(alice, project, prompt=f"a kite over the dunes {uuid.uuid4().hex[:8]}")
    pipeline.send_create(render.pk)
    sim.control.patch_faults(drop_create_response_rate=0.0)
    [job] = [v["id"] for v in sim.control.videos(API_KEY) if v["prompt"] == render.prompt]
    # the job ends at the provider, whose webhook names a job no render owns: kept
    wait_for(lambda: WebhookDelivery.objects.filter(api_key=key, video_id=job).exists(), 30, "the job's webhook")
    assert reconcile.settle_unknown_outcomes() == 1
    render.refresh_from_db()
    assert render.provider_video_id == job and render.status == Status.DOWNLOADING
    adopted = render.events.get(kind=EventKind.ADOPTED)
    assert timeline.sentence(adopted) == "The provider's webhook named the job (it was not sent twice)."
    assert not BillingIncident.objects.exists()
    assert sim.control.counters(API_KEY)["creates_attempted"] == 1
