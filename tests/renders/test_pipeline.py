"""The worker's steps run in-process against a real sorasim over HTTP (the integration tests run them in a
real worker): create once, poll, store the assets, complete and settle; and the refusals."""


import pytest

from quotas.models import Reservation
from renders import actions, pipeline
from renders.models import EventKind, Render
from renders.states import Status
from tests.fixtures.waits import step_until
from tests.fixtures.world import submit

pytestmark = pytest.mark.django_db


def run_to_the_end(render):
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    if render.status in (Status.QUEUED, Status.IN_PROGRESS):
        step_until(render, {Status.DOWNLOADING, Status.FAILED}, pipeline.poll)
    if render.status == Status.DOWNLOADING:
        pipeline.download(render.pk)
    render.refresh_from_db()
    return render


def test_it_creates_once_tracks_stores_and_settles(alice, project, sim_key):
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status in (Status.QUEUED, Status.IN_PROGRESS)
    assert render.api_key == sim_key and render.provider_video_id.startswith("video_")
    assert render.create_sent_at is not None and render.job_slot_held
    pipeline.send_create(render.pk)  # a duplicate message: nothing is sent again
    assert sim_key.sim.control.counters(sim_key.secret)["creates_attempted"] == 1

    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    assert not render.job_slot_held
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED
    assert render.video and render.thumbnail and render.spritesheet
    assert abs(float(render.delivered_seconds) - 4) < 0.2
    assert render.charged_usd > 0
    assert Reservation.objects.get(render=render).state == Reservation.State.SETTLED
    with render.thumbnail.open("rb") as f:
        assert f.read(12)[8:12] == b"WEBP"
    with render.spritesheet.open("rb") as f:
        assert f.read(3) == b"\xff\xd8\xff"
    statuses = list(render.events.filter(kind=EventKind.STATUS).values_list("status_to", flat=True))
    assert statuses[0] == Status.SENDING and statuses[-2:] == [Status.DOWNLOADING, Status.COMPLETED]
    pipeline.download(render.pk)  # a rerun is a no-op
    counters = sim_key.sim.control.counters(sim_key.secret)
    assert counters["creates_accepted"] == 1


def test_a_moderated_prompt_fails_in_plain_words_and_is_refunded(alice, project, sim_key):
    from tests.fixtures.sorasim import MODERATE_WORD

    render = run_to_the_end(submit(alice, project, prompt=f"a {MODERATE_WORD} scene"))
    assert render.status == Status.FAILED
    assert render.error_code == "moderation_blocked"
    assert "safety system" in render.error_message
    assert Reservation.objects.get(render=render).state == Reservation.State.REFUNDED


def test_a_remix_uses_its_parents_key_and_video(alice, project, sim_key):
    parent = run_to_the_end(submit(alice, project))
    assert parent.status == Status.COMPLETED
    child = run_to_the_end(actions.submit(alice, project, prompt="the same fox at night", remix_of=parent))
    assert child.status == Status.COMPLETED
    assert child.api_key == parent.api_key
    job = sim_key.sim.control.video(child.provider_video_id)
    assert (job.get("remixed_from_video_id") or job.get("video", {}).get("remixed_from_video_id")) == \
        parent.provider_video_id


def test_without_a_usable_key_it_waits_and_says_why(alice, project, sim_key):
    sim_key.state = "out_of_credit"
    sim_key.save()
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status == Status.WAITING
    assert render.next_attempt_at is not None and render.heartbeat_at is None
    assert "out of credit" in render.events.filter(kind=EventKind.WAIT).get().message
    pipeline.send_create(render.pk)  # still no key: no second event for the same reason
    assert render.events.filter(kind=EventKind.WAIT).count() == 1
    sim_key.state = "active"
    sim_key.save()
    render = run_to_the_end(render)
    assert render.status == Status.COMPLETED


def test_it_fails_as_no_usable_key_after_the_maximum_wait(alice, project, sim_key, settings):
    settings.RENDER_MAX_KEY_WAIT_SECONDS = 0
    sim_key.state = "disabled"
    sim_key.save()
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert (render.status, render.error_code) == (Status.FAILED, "no_usable_key")
    assert Reservation.objects.get(render=render).state == Reservation.State.REFUNDED


def test_a_project_with_its_own_keys_does_not_use_the_default_pool(alice, project, sim_key):
    from providers.models import ApiKey

    dedicated = ApiKey(name="dedicated", base_url=sim_key.base_url, state="disabled")
    dedicated.secret = sim_key.secret
    dedicated.save()
    dedicated.projects.add(project)
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status == Status.WAITING
    assert "dedicated is disabled" in render.events.last().message


def test_out_of_credit_marks_the_key_and_moves_the_render_to_another_key(alice, project, sim_key):
    from providers.models import ApiKey

    poor = ApiKey(name="a-poor", base_url=sim_key.base_url, rpm_limit=0, max_concurrent=0)
    poor.secret = "sk-test-poor"
    poor.save()
    sim_key.sim.control.set_key("sk-test-poor", credit_usd=0)
    Render.objects.all().delete()
    render = submit(alice, project)
    # the least busy key first, both at 0: force the poor one by taking the other's slot count up
    from providers import limiter

    limiter.acquire_job_slot(sim_key.pk)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    poor.refresh_from_db()
    assert poor.state == "out_of_credit"
    assert render.status == Status.WAITING and render.api_key is None and render.create_sent_at is None
    assert "out of credit" in render.events.filter(kind=EventKind.RETRY).get().message
    render = run_to_the_end(render)
    assert render.status == Status.COMPLETED and render.api_key == sim_key


def test_a_lost_create_answer_is_never_sent_again_and_the_reconciler_adopts_the_job(
        alice, project, sim_key, settings):
    from renders import reconcile

    settings.RENDER_RECONCILE_AFTER_SECONDS = 0
    sim_key.sim.control.patch_faults(drop_create_response_rate=1.0)
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    assert render.status == Status.SENDING and render.error_code == "outcome_unknown"
    assert render.provider_video_id == ""
    sim_key.sim.control.patch_faults(drop_create_response_rate=0.0)
    pipeline.send_create(render.pk)  # a duplicate message must not POST again
    reconcile.settle_unknown_outcomes()
    render.refresh_from_db()
    assert render.provider_video_id.startswith("video_")
    assert render.events.filter(kind=EventKind.ADOPTED).exists()
    render = run_to_the_end(render)
    assert render.status == Status.COMPLETED
    counters = sim_key.sim.control.counters(sim_key.secret)
    assert (counters["creates_attempted"], counters["creates_accepted"]) == (1, 1)


def test_a_truncated_download_retries_only_the_download(alice, project, sim_key):
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    sim_key.sim.control.patch_faults(truncate_download_rate=1.0)
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.DOWNLOADING and render.attempts == 1
    assert not render.video  # nothing partial is kept
    assert render.next_attempt_at is not None and render.heartbeat_at is None
    assert render.events.filter(kind=EventKind.RETRY).exists()
    sim_key.sim.control.patch_faults(truncate_download_rate=0.0)
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED
    counters = sim_key.sim.control.counters(sim_key.secret)
    assert counters["creates_attempted"] == 1
    assert counters["requests"]["GET /v1/videos/{video_id}/content 200"] == 4  # 1 truncated + 3


def test_a_rate_limited_create_waits_and_pauses_the_key_for_every_worker(alice, project, sim_key):
    # a key of its own: the shared sorasim's rolling window still holds the other tests' requests
    sim_key.sim.control.set_key("sk-test-rate-limited", rpm=1)
    sim_key.secret = "sk-test-rate-limited"
    sim_key.save()
    with sim_key.client() as client:
        list(client.list(limit=1))  # the one request of this minute
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    sim_key.refresh_from_db()
    assert render.status == Status.WAITING and render.create_sent_at is None
    assert render.next_attempt_at > render.updated_at
    assert sim_key.paused_until is not None and sim_key.state == "rate_limited"
    assert "rate limited" in render.events.filter(kind=EventKind.RETRY).get().message
    assert sim_key.sim.control.counters(sim_key.secret)["creates_accepted"] == 0


def test_a_key_that_stops_taking_new_work_still_tracks_and_stores_its_jobs(alice, project, sim_key):
    render = submit(alice, project)
    pipeline.send_create(render.pk)
    for state in ("out_of_credit", "draining"):
        sim_key.state = state
        sim_key.save()
        assert not sim_key.takes_new_work
    render = step_until(render, {Status.DOWNLOADING}, pipeline.poll)
    pipeline.download(render.pk)
    render.refresh_from_db()
    assert render.status == Status.COMPLETED and render.api_key == sim_key
    blocked = submit(alice, project, prompt="another fox")
    pipeline.send_create(blocked.pk)
    blocked.refresh_from_db()
    assert blocked.status == Status.WAITING  # but no fresh create on it


@pytest.mark.parametrize("orientation", [1, 6])
def test_the_provider_receives_the_reference_upright_and_without_its_exif(alice, project, sim_key, orientation):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.renders.studio.conftest import assert_no_metadata, phone_photo

    size = (1280, 720) if orientation == 6 else (720, 1280)
    photo = SimpleUploadedFile("IMG_0001.jpg", phone_photo("JPEG", size, orientation))
    render = submit(alice, project, reference_image=photo)
    with render.reference_image.open("rb") as f:
        stored = f.read()
    assert_no_metadata(stored, "JPEG", turned=orientation == 6)
    pipeline.send_create(render.pk)
    render.refresh_from_db()
    received = sim_key.sim.control.video_reference(render.provider_video_id)
    assert received == stored  # the stored copy, byte for byte: nothing adds the metadata back on the way
    assert_no_metadata(received, "JPEG", turned=orientation == 6)
