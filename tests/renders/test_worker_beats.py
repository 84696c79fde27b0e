"""Worker beats: each worker process stamps its own row, a claim names the process holding the render, and the reaper
resumes a render at once when that process stopped beating, but never while it beats."""

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery.concurrency.prefork import TaskPool as PreforkPool
from django.utils import timezone

from renders import pipeline, reconcile, workers
from renders.models import EventKind, WorkerBeat
from renders.states import Status
from tests.fixtures.waits import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.key(has_webhooks=True)]


def ago(seconds):
    return timezone.now() - timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _reaper_settings(settings):
    settings.RENDER_HEARTBEAT_STALE_SECONDS = 180
    settings.WORKER_BEAT_SECONDS = 5
    settings.WORKER_DEAD_AFTER_SECONDS = 15


def worker_row(name, *, beat_ago, stopped=False):
    return WorkerBeat.objects.create(name=name, host="h", pid=1, beat_at=ago(beat_ago),
                                     stopped_at=timezone.now() if stopped else None)


def downloading(make_render, key, n, **fields):
    return make_render(Status.DOWNLOADING, api_key=key, provider_video_id=f"video_{n}", **fields)


@pytest.mark.parametrize(("beat_ago", "stopped", "heartbeat_ago"), [
    (16, False, 2),  # killed: its beat stopped, though the render's heartbeat is fresh
    (1, True, 1),  # stopped cleanly while it still held the render (a pool child that ended)
    (1, False, 181),  # alive, but this task hung: the render's own heartbeat is the rule
], ids=["dead", "stopped", "hung task"])
def test_it_resumes_a_render_whose_worker_is_gone_or_hung(make_render, key, beat_ago, stopped, heartbeat_ago):
    worker_row("w", beat_ago=beat_ago, stopped=stopped)
    render = downloading(make_render, key, 1, claimed_by="w", heartbeat_at=ago(heartbeat_ago))
    assert reconcile.reap_quiet() == 1
    render.refresh_from_db()
    assert render.heartbeat_at is None and render.next_attempt_at <= timezone.now()
    assert render.events.filter(kind=EventKind.RETRY, source="reconciler", message__contains="quiet").exists()


def test_a_long_download_on_a_beating_worker_is_never_taken(make_render, key):
    """Its heartbeat is far older than WORKER_DEAD_AFTER (no bytes for a while), but its worker beats."""
    worker_row("alive", beat_ago=1)
    render = downloading(make_render, key, 1, claimed_by="alive", heartbeat_at=ago(170))
    assert reconcile.reap_quiet() == 0
    render.refresh_from_db()
    assert render.heartbeat_at is not None and render.next_attempt_at is None
    assert not render.events.filter(source="reconciler").exists()


def test_a_render_nobody_names_with_a_fresh_heartbeat_is_left(make_render, key):
    worker_row("dead", beat_ago=600)
    render = downloading(make_render, key, 1, claimed_by="", heartbeat_at=ago(30))
    assert reconcile.reap_quiet() == 0
    render.refresh_from_db()
    assert render.heartbeat_at is not None


def test_a_worker_without_a_row_falls_back_to_the_stale_heartbeat(make_render, key):
    fresh = downloading(make_render, key, 1, claimed_by="never-beat", heartbeat_at=ago(30))
    stale = downloading(make_render, key, 2, claimed_by="never-beat", heartbeat_at=ago(181))
    assert reconcile.reap_quiet() == 1
    fresh.refresh_from_db()
    stale.refresh_from_db()
    assert fresh.heartbeat_at is not None and stale.heartbeat_at is None


def test_a_render_not_held_is_not_touched_whatever_it_last_named(make_render, key):
    worker_row("dead", beat_ago=600)
    render = downloading(make_render, key, 1, claimed_by="dead", heartbeat_at=None, next_attempt_at=ago(-60))
    assert reconcile.reap_quiet() == 0
    render.refresh_from_db()
    assert render.next_attempt_at > timezone.now()
    assert not render.events.exists()


def test_a_create_held_by_a_dead_worker_is_never_resent_but_left_to_the_list(make_render, key):
    worker_row("dead", beat_ago=20)
    render = make_render(Status.SENDING, api_key=key, create_sent_at=ago(3), claimed_by="dead", heartbeat_at=ago(3))
    reconcile.reap_quiet()
    render.refresh_from_db()
    assert render.status == Status.SENDING and render.error_code == "outcome_unknown"
    assert render.heartbeat_at is None and render.next_attempt_at is None


def test_an_accepted_create_held_by_a_dead_worker_is_tracked(make_render, key):
    worker_row("dead", beat_ago=20)
    render = make_render(Status.SENDING, api_key=key, provider_video_id="video_9", create_sent_at=ago(3),
                         claimed_by="dead", heartbeat_at=ago(3))
    reconcile.reap_quiet()
    render.refresh_from_db()
    assert render.status == Status.QUEUED and render.heartbeat_at is None and render.next_attempt_at is not None


def test_a_reaper_whose_own_beat_is_not_steady_judges_no_other_worker(make_render, key, monkeypatch):
    """Right after the database was away every beat is old, the living's too: silence means nothing yet."""
    beat = workers.Beat()
    beat.last_stamp = beat.steady_since = time.monotonic()  # its first beat since the outage, a moment ago
    monkeypatch.setattr(workers, "_beat", beat)
    worker_row("silent", beat_ago=40)
    held = downloading(make_render, key, 1, claimed_by="silent", heartbeat_at=ago(2))
    stale = downloading(make_render, key, 2, claimed_by="silent", heartbeat_at=ago(181))
    assert reconcile.reap_quiet() == 1  # the stale heartbeat's rule does not depend on beats
    held.refresh_from_db()
    stale.refresh_from_db()
    assert held.heartbeat_at is not None and stale.heartbeat_at is None
    beat.steady_since -= 2 * 5  # steady for two beat intervals: every live worker has stamped since
    assert reconcile.reap_quiet() == 1
    held.refresh_from_db()
    assert held.heartbeat_at is None


def test_rows_of_workers_gone_a_day_are_forgotten(make_render, key):
    worker_row("old", beat_ago=86400 + 60)
    worker_row("recent", beat_ago=3600)
    reconcile.reap_quiet()
    assert list(WorkerBeat.objects.values_list("name", flat=True)) == ["recent"]


def test_a_claim_names_the_process_holding_the_render(make_render, key, monkeypatch):
    beat = workers.Beat()
    monkeypatch.setattr(workers, "_beat", beat)
    render = make_render(Status.QUEUED, api_key=key, provider_video_id="video_1")
    assert pipeline.claim(render.pk, [Status.QUEUED]) is not None
    render.refresh_from_db()
    assert render.claimed_by == beat.name and render.heartbeat_at is not None


def test_a_claim_outside_a_worker_names_nobody(make_render, key):
    render = make_render(Status.QUEUED, api_key=key, provider_video_id="video_1", claimed_by="someone-before")
    pipeline.claim(render.pk, [Status.QUEUED])
    render.refresh_from_db()
    assert render.claimed_by == "" and render.heartbeat_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_beat_stamps_its_row_from_its_thread_and_records_its_stop(settings):
    settings.WORKER_BEAT_SECONDS = 0.05
    beat = workers.Beat().start()
    try:
        row = WorkerBeat.objects.get(name=beat.name)  # stamped before start() returned: claims may name it
        first = row.beat_at
        wait_for(lambda: WorkerBeat.objects.get(pk=row.pk).beat_at > first, timeout=10, every=0.05,
                 what="a second beat")
        assert not WorkerBeat.dead().filter(pk=row.pk).exists()
        wait_for(beat.steady, timeout=10, every=0.05, what="two beat intervals on time")
    finally:
        beat.stop()
    assert not beat._thread.is_alive()
    row.refresh_from_db()
    assert row.stopped_at is not None
    assert WorkerBeat.dead().filter(pk=row.pk).exists()


def test_a_beat_survives_a_database_error(monkeypatch, settings):
    beat = workers.Beat()

    def broken(*args, **kwargs):
        raise RuntimeError("the database is restarting")

    monkeypatch.setattr(WorkerBeat.objects, "filter", broken)
    beat.stamp()  # logged, not raised: the thread goes on
    assert beat.last_stamp is None and not beat.steady()


@pytest.mark.django_db(transaction=True)
def test_a_solo_worker_beats_in_its_main_process_and_a_prefork_one_only_in_its_children(monkeypatch):
    monkeypatch.setattr(workers, "_beat", None)
    workers._beat_in_main_process(sender=SimpleNamespace(pool=PreforkPool.__new__(PreforkPool)))
    assert workers.name() == "" and not WorkerBeat.objects.exists()
    workers._beat_in_main_process(sender=SimpleNamespace(pool=object()))  # solo or threads: it does the work
    try:
        assert WorkerBeat.objects.filter(name=workers.name(), stopped_at__isnull=True).exists()
    finally:
        workers._stop_in_main_process()
    assert workers.name() == "" and WorkerBeat.objects.get().stopped_at is not None
