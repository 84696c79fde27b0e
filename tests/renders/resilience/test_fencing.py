"""Fencing: a worker that lost its render (it went quiet past the stale time, and the reaper or another claim took the
render) sends nothing and writes nothing when it wakes. Each claim draws an attempt token; the claim's instance of
the render carries it (Render.fence), and its writes, the create's POST and its download's part file depend on it.

The steps run in this process against sorasim over HTTP; a "freeze" is the takeover made while the step is between
two of its own lines (the same interleaving a SIGSTOP produces, tests/renders/resilience/test_worker_freeze.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from renders import lifecycle, pipeline, reconcile
from renders.models import Render
from renders.states import NOT_SENT, Status
from tests.fixtures.sorasim import API_KEY
from tests.fixtures.waits import step_until
from tests.fixtures.world import submit

pytestmark = [pytest.mark.django_db, pytest.mark.project(name="Fencing", members={}),
              pytest.mark.sim_key(can_remix_by_create=False)]


def frozen_past_the_stale_time(render_id):
    """What the clock does to a frozen holder: its heartbeat grows older than RENDER_HEARTBEAT_STALE_SECONDS."""
    Render.objects.filter(pk=render_id).update(heartbeat_at=timezone.now() - timedelta(days=1))


def test_a_holder_taken_over_before_its_create_is_sent_sends_nothing(alice, project, sim_key, monkeypatch):
    render = submit(alice, project)
    reading = pipeline._reference

    def freeze_before_the_post(held):
        # between the move to sending and the POST: the reaper finds the holder quiet and takes the render
        frozen_past_the_stale_time(held.pk)
        assert reconcile.reap_quiet() == 1
        return reading(held)

    monkeypatch.setattr(pipeline, "_reference", freeze_before_the_post)
    pipeline.send_create(render.pk)
    assert sim_key.control.counters(API_KEY)["creates_attempted"] == 0  # the stale holder stopped before the POST
    render.refresh_from_db()
    assert render.outcome_unknown and render.claim_token == ""
    assert render.events.filter(source="reconciler", message__contains="quiet while sending").exists()

    # the reconciler proves there is no job and sends it again: one create in all, one job
    monkeypatch.setattr(pipeline, "_reference", reading)
    Render.objects.filter(pk=render.pk).update(create_sent_at=timezone.now() - timedelta(seconds=600))
    assert reconcile.settle_unknown_outcomes() == 1
    render.refresh_from_db()
    assert render.status == Status.WAITING
    pipeline.send_create(render.pk)
    render = step_until(render, {Status.COMPLETED}, lambda pk: (pipeline.poll(pk), pipeline.download(pk)))
    counters = sim_key.control.counters(API_KEY)
    assert counters["creates_attempted"] == counters["creates_accepted"] == 1


def test_a_holder_taken_over_before_its_move_changes_nothing(alice, project, sim_key, monkeypatch):
    render = submit(alice, project)
    choosing = pipeline.keypool.choose_key
    taken = {}

    def freeze_while_choosing_a_key(held):
        frozen_past_the_stale_time(held.pk)
        taken["render"] = pipeline.claim(held.pk, NOT_SENT)  # another worker's claim wins the render
        return choosing(held)

    monkeypatch.setattr(pipeline.keypool, "choose_key", freeze_while_choosing_a_key)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status == Status.SUBMITTING and render.claim_token == taken["render"].fence
    assert not render.job_slot_held and render.create_sent_at is None
    assert sim_key.control.counters(API_KEY)["creates_attempted"] == 0


def test_a_late_answer_is_taken_unless_another_claim_holds_the_render(alice, project, sim_key):
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    with pipeline.provider_client(sim_key) as client:
        video = client.retrieve(render.provider_video_id)
    # the create was on its way when the reaper took the render from its quiet worker
    Render.objects.filter(pk=render.pk).update(status=Status.SENDING, provider_video_id="", claim_token="")

    quiet = Render.objects.get(pk=render.pk)
    quiet.fence = "0ldc1a1m"
    Render.objects.filter(pk=render.pk).update(claim_token="n3wc1a1m")  # another worker holds it now
    assert not lifecycle.take_video_id(quiet, video, source="worker")

    Render.objects.filter(pk=render.pk).update(claim_token="")  # nobody holds it: the job exists, take it
    assert lifecycle.take_video_id(quiet, video, source="worker")
    render.refresh_from_db()
    assert render.provider_video_id == video.id and render.status in (Status.QUEUED, Status.IN_PROGRESS)


def test_a_download_taken_over_stops_and_stores_nothing(alice, project, sim_key, settings, tmp_path):
    settings.RENDER_DOWNLOAD_DIR = tmp_path / "downloads"
    settings.RENDER_HEARTBEAT_SECONDS = 0  # every write checks the claim
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    Render.objects.filter(pk=render.pk).update(next_attempt_at=None)
    stale = pipeline.claim(render.pk, [Status.DOWNLOADING])
    stale_part = pipeline.part_file(stale, "video")
    stale_part.write_bytes(b"bytes of the stale attempt")

    frozen_past_the_stale_time(render.pk)
    fresh = pipeline.claim(render.pk, [Status.DOWNLOADING])
    assert pipeline.part_file(fresh, "video") != stale_part and not stale_part.exists()  # its own, the old removed

    with pytest.raises(pipeline.LostClaim):
        pipeline.store_variant(stale, "video")  # the check before the next file
    with open(tmp_path / "sink", "wb") as sink, pytest.raises(pipeline.LostClaim):
        pipeline.HeartbeatFile(sink, stale).write(b"a chunk")  # the check while the bytes stream
    assert not stale.update_if(status=Status.DOWNLOADING, attempts=7)
    assert not lifecycle.mark_failed(stale, "download_failed", source="worker")

    render.refresh_from_db()
    assert render.status == Status.DOWNLOADING and not render.video and render.claim_token == fresh.fence
    assert render.attempts != 7

    for variant in ("video", "thumbnail", "spritesheet"):
        assert pipeline.store_variant(fresh, variant)
    pipeline.finish_download(fresh)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED and abs(pipeline.stored_duration(render.video) - 4) < 0.2
    assert not list(settings.RENDER_DOWNLOAD_DIR.iterdir())
