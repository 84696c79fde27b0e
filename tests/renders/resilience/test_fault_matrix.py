"""The fault matrix: each provider fault, each key failure and a killed worker, switched on in turn
against a real Celery worker, real Redis, real PostgreSQL and sorasim over HTTP (webhooks to the live server).

Every run submits 20 renders or more, makes sure its fault fired at least 3 times, and ends with the checks of
tests/renders/resilience/harness.py: every render completed, or failed with a reason and refunded; none lost or stuck;
sorasim billed exactly the renders that have a job; the quota ledger balances.

One worker serves the whole module (tests/renders/resilience/conftest.py), with every wait shrunk to 2 s or less.
"""

import os
import threading
import time
from pathlib import Path

import pytest

from providers import keyadmin
from providers.models import ApiKey, KeyState
from renders.models import EventKind, Render, RenderEvent, WebhookDelivery
from renders.states import NOT_SENT, Status
from tests.fixtures.sorasim import DEFAULT_ARGS, probe_video, start_sorasim
from tests.fixtures.waits import wait_for
from tests.renders.resilience.harness import add_key, check_run, describe, make_run, wait_all_final

pytestmark = [
    pytest.mark.slow(100),  # each run; the longest measured under load: 98 s (a key turned invalid)
    pytest.mark.integration,
    pytest.mark.postgres_only("the fault matrix proves the production stack: PostgreSQL, Redis and a real worker"),
    pytest.mark.django_db(transaction=True),
]

RENDERS = 20
CONTENT = "GET /v1/videos/{video_id}/content 200"


class Toggle:
    """Switch a fault on and off in bursts (on for `on` seconds, off for `off`) until stopped, from a thread with
    its own admin client, so the pipeline meets the fault again and again while renders are in flight."""

    def __init__(self, sim, on_fields, off_fields, on=0.8, off=1.5):
        from sorasim.control import SimControl

        self.control = SimControl(sim.url)
        self.on_fields, self.off_fields, self.on, self.off = on_fields, off_fields, on, off
        self.bursts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.control.patch_faults(**self.on_fields)
            self.bursts += 1
            self._stop.wait(self.on)
            self.control.patch_faults(**self.off_fields)
            self._stop.wait(self.off)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        self.control.patch_faults(**self.off_fields)
        self.control.close()


# --- provider faults -------------------------------------------------------------------------------------------

def through_5xx_bursts(run, worker):
    """The run's renders submitted in two halves while 500, 502 and 503 answers come in bursts; every render
    final, the fault fired and retried at least 3 times."""
    with Toggle(run.sim, {"error_rate": 1.0, "error_statuses": [500, 502, 503]}, {"error_rate": 0.0}):
        run.submit(RENDERS // 2)
        time.sleep(1.0)
        run.submit(RENDERS - RENDERS // 2)
        wait_all_final(run, worker)
    assert run.fired("error") >= 3
    assert Render.objects.filter(events__kind=EventKind.RETRY).distinct().count() >= 3


def test_5xx_bursts_are_retried_with_backoff_and_a_lasting_fault_fails_and_refunds(
        alice, sim, live_server, matrix_worker, settings):
    run = make_run("5xx", sim, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    through_5xx_bursts(run, matrix_worker)

    # a fault that outlasts the retries: the create fails with a reason, refunded (nothing was billed)
    run.control.patch_faults(error_rate=1.0, error_endpoints=["create"])
    doomed = run.submit(2, prompt="a boat the provider never accepts")
    wait_all_final(run, matrix_worker)
    run.control.patch_faults(error_rate=0.0, error_endpoints=[])
    for render in doomed:
        assert (render.status, render.error_code) == (Status.FAILED, "provider_unavailable")
        assert "gave up" in render.error_message
        # tried RENDER_MAX_ATTEMPTS times, backing off in between: one RETRY event per try but the last
        assert render.events.filter(kind=EventKind.RETRY).count() == settings.RENDER_MAX_ATTEMPTS - 1
    check_run(run, matrix_worker, min_completed=RENDERS)


def test_latency_spikes_time_out_calls_that_are_retried_and_creates_that_the_reconciler_settles(
        alice, sim, live_server, matrix_worker):
    run = make_run("latency", sim, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    # 1.5 s of latency against a 1 s client timeout: polls and downloads time out (retried with backoff), and
    # creates time out after they were sent (outcome unknown: never sent again blindly; the reconciler adopts the
    # job if the provider made one, else, once a complete listing taken twice the client's timeout later shows none,
    # the render is sent again: the provider never made a job, so nothing was billed)
    spike = {"latency_ms": 1500, "latency_endpoints": ["create", "retrieve", "content"]}
    with Toggle(sim, spike, {"latency_ms": 0}, on=1.5, off=2.0):
        run.submit(RENDERS // 2)
        time.sleep(1.5)
        run.submit(RENDERS - RENDERS // 2)
        wait_all_final(run, matrix_worker, timeout=120)
    assert run.fired("latency") >= 3
    timed_out = Render.objects.filter(events__kind=EventKind.RETRY, events__message__contains="Timeout").distinct()
    assert timed_out.exists()  # polls or downloads that timed out and were tried again
    for render in Render.objects.filter(status=Status.FAILED):
        assert (render.error_code, render.provider_video_id) == ("outcome_unknown", ""), render.error_code
    counters = run.control.counters("sk-test-1")
    resent = RenderEvent.objects.filter(kind=EventKind.RETRY, source="reconciler",
                                        message__contains="Sending it again").count()
    # a create is sent again only where a complete listing proved it made no job
    assert counters["creates_attempted"] == RENDERS + resent
    check_run(run, matrix_worker, min_completed=RENDERS // 4)


def test_lost_create_responses_are_never_sent_again_and_the_reconciler_adopts_the_jobs(
        alice, sim, live_server, matrix_worker):
    run = make_run("lost-create", sim, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    run.control.patch_faults(drop_create_response_rate=0.5)
    run.submit(RENDERS)
    wait_all_final(run, matrix_worker)
    dropped = run.fired("drop_create_response")
    assert dropped >= 3
    counters = run.control.counters("sk-test-1")
    assert counters["creates_attempted"] == counters["creates_accepted"] == RENDERS  # no create sent twice
    assert Render.objects.filter(events__kind=EventKind.ADOPTED).count() == dropped
    check_run(run, matrix_worker)


@pytest.mark.parametrize(("fault", "fields"), [
    ("webhook_drop", {"webhook_drop_rate": 0.6}),
    ("webhook_duplicate", {"webhook_duplicate_rate": 0.6}),
    ("webhook_reorder", {"webhook_reorder": True, "webhook_reorder_window": 1.0}),
], ids=["dropped", "duplicated", "reordered"])
def test_webhook_faults_leave_every_render_completed_once(alice, sim, live_server, matrix_worker, fault, fields):
    run = make_run(fault, sim, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    run.control.patch_faults(**fields)
    run.submit(RENDERS)
    wait_all_final(run, matrix_worker)
    assert run.fired(fault) >= 3
    if fault == "webhook_drop":
        # the polling safety net found the renders whose webhook never came
        assert Render.objects.filter(events__status_to=Status.DOWNLOADING, events__source="poll").count() >= 3
    if fault == "webhook_duplicate":
        # a repeated webhook-id is stored once and applied once
        assert WebhookDelivery.objects.count() == WebhookDelivery.objects.values("webhook_id").distinct().count()
    check_run(run, matrix_worker)


def test_truncated_downloads_are_downloaded_again_never_created_again(alice, sim, live_server, matrix_worker):
    run = make_run("truncated", sim, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    run.control.patch_faults(truncate_download_rate=0.25)
    run.submit(RENDERS)
    wait_all_final(run, matrix_worker)
    assert run.fired("truncate_download") >= 3
    assert run.control.counters("sk-test-1")["creates_attempted"] == RENDERS
    check_run(run, matrix_worker)


def test_short_clips_are_charged_the_seconds_delivered(alice, sim, live_server, matrix_worker):
    run = make_run("short", sim, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    run.control.patch_faults(short_clip_rate=0.5)
    run.submit(RENDERS)
    wait_all_final(run, matrix_worker)
    short = run.fired("short_clip")
    assert short >= 3
    clipped = [r for r in run.renders if r.delivered_seconds is not None and r.delivered_seconds < 3.5]
    assert len(clipped) == short  # 3 s delivered of 4 asked: charged 3 s (check_run checks the money)
    check_run(run, matrix_worker)


# --- gateways: each other dialect meets a 5xx burst and lost create answers --------------------------------------

GATEWAYS = ["newapi", "litellm", "azure"]


@pytest.mark.parametrize("dialect", GATEWAYS)
def test_a_gateways_5xx_bursts_are_read_in_its_error_shape_and_retried(
        alice, sim, live_server, matrix_worker, dialect):
    run = make_run(f"5xx-{dialect}", sim, live_server, alice)
    add_key(run, f"sk-{dialect}", live_server, dialect=dialect)
    through_5xx_bursts(run, matrix_worker)
    # the dialect's own words reached the timeline (not a generic "could not read the answer")
    assert not RenderEvent.objects.filter(message__icontains="unreadable").exists()
    check_run(run, matrix_worker, min_completed=RENDERS)


@pytest.mark.parametrize("dialect", GATEWAYS)
def test_a_gateways_lost_create_answers_are_adopted_from_its_list_or_end_as_outcome_unknown(
        alice, sim, live_server, matrix_worker, dialect):
    run = make_run(f"lost-create-{dialect}", sim, live_server, alice)
    key = add_key(run, f"sk-{dialect}", live_server, dialect=dialect)
    run.control.patch_faults(drop_create_response_rate=0.5)
    run.submit(RENDERS)
    wait_all_final(run, matrix_worker)
    dropped = run.fired("drop_create_response")
    assert dropped >= 3
    counters = run.control.counters(f"sk-{dialect}")
    assert counters["creates_attempted"] == counters["creates_accepted"] == RENDERS  # no create sent twice
    unknown = Render.objects.filter(status=Status.FAILED, error_code="outcome_unknown")
    if key.has_list_endpoint:
        assert Render.objects.filter(events__kind=EventKind.ADOPTED).count() == dropped
        assert not unknown.exists()
    else:
        # no list to adopt from, no webhooks: never sent again; failed, refunded, the possible charge kept for staff
        assert unknown.count() == dropped
        assert all("may have billed" in render.error_message for render in unknown)
        assert not Render.objects.filter(events__kind=EventKind.ADOPTED).exists()
    check_run(run, matrix_worker, min_completed=RENDERS - (0 if key.has_list_endpoint else dropped))


# --- keys ------------------------------------------------------------------------------------------------------

def test_a_key_out_of_credit_mid_batch_moves_renders_to_another_key_and_they_resume_after_a_top_up(
        alice, staff, sim, live_server, matrix_worker):
    run = make_run("credit", sim, live_server, alice)
    # sora-2, 4 s: $0.40 a render. Key A has credit for 4 jobs, B (which joins the pool later) for 14.
    key_a = add_key(run, "sk-credit-a", live_server, credit_usd=1.6)
    parents = run.submit(3, prompt="a boat to remix later")
    wait_all_final(run, matrix_worker)
    assert {p.api_key_id for p in parents} == {key_a.pk}
    key_b = add_key(run, "sk-credit-b", live_server, credit_usd=5.6)

    def settled(render):  # created, and its key's slot given back (so the next render's choice is a tie again)
        render.refresh_from_db()
        return render.provider_video_id and not render.job_slot_held

    # one at a time, so that A (the first key of the pool at a tie) is asked: it takes the first and refuses the
    # second, which moves to B at once
    first = run.submit(1)[0]
    wait_for(lambda: settled(first), 30, "the first render to be created")
    moved = run.submit(1)[0]
    wait_for(lambda: settled(moved), 30, "the refused render to be created on the other key")
    assert (first.api_key_id, moved.api_key_id) == (key_a.pk, key_b.pk)
    assert moved.events.filter(message__contains=f"{key_a.name} is out of credit").exists()
    assert ApiKey.objects.get(pk=key_a.pk).state == KeyState.OUT_OF_CREDIT

    # 15 more: B takes 13 and runs out; 2 wait for a key. 3 remixes wait for A, the only key that can remix their
    # parents' videos, though B took work until it ran out.
    run.submit(15)
    remixes = [run.remix(parent) for parent in parents]
    wait_for(lambda: ApiKey.objects.get(pk=key_b.pk).state == KeyState.OUT_OF_CREDIT, 60, "B to run out of credit")
    # jobs accepted on a key that is out of credit are still tracked and stored with it
    wait_for(lambda: not Render.objects.exclude(provider_video_id="").exclude(status=Status.COMPLETED).exists(),
             60, "every accepted job to complete while its key is out of credit")
    wait_for(lambda: Render.objects.filter(status=Status.WAITING).count() == 5, 30, "5 renders to wait for a key")
    assert Render.objects.filter(api_key=key_a).exclude(provider_video_id="").count() == 4
    assert Render.objects.filter(api_key=key_b).exclude(provider_video_id="").count() == 14
    for remix in remixes:
        remix.refresh_from_db()
        assert (remix.status, remix.api_key_id) == (Status.WAITING, key_a.pk)  # never moved off its parent's key
        assert remix.events.filter(message__contains="parent's key").exists()
    # a refusal marks the key at once: never retried as a rate limit (two creates racing may both be refused)
    assert 2 <= run.responses("POST /v1/videos 429") <= 3

    # A is topped up with room for 2 more: the waiting renders resume by themselves after the admin's
    # acknowledgement; A takes 2 and refuses the third. Then both keys are topped up for good.
    run.control.top_up("sk-credit-a", 0.8)
    keyadmin.acknowledge_top_up(key_a, staff)
    wait_for(lambda: ApiKey.objects.get(pk=key_a.pk).state == KeyState.OUT_OF_CREDIT
             and Render.objects.filter(api_key=key_a).exclude(provider_video_id="").count() == 6, 60,
             "key A to take 2 renders and run out again")
    refused = run.responses("POST /v1/videos 429") + run.responses("POST /v1/videos/{video_id}/remix 429")
    assert refused >= 3
    for name, key in (("sk-credit-a", key_a), ("sk-credit-b", key_b)):
        run.control.top_up(name, 20.0)
        key.refresh_from_db()
        keyadmin.acknowledge_top_up(key, staff)
    wait_all_final(run, matrix_worker)
    assert set(Render.objects.filter(remix_of__isnull=False).values_list("api_key", flat=True)) == {key_a.pk}
    check_run(run, matrix_worker)


def test_a_key_turned_invalid_holds_renders_until_it_is_fixed(alice, staff, sim, live_server, matrix_worker):
    run = make_run("invalid", sim, live_server, alice)
    key = add_key(run, "sk-invalid", live_server)
    run.submit(RENDERS)
    # revoked mid-batch: some jobs are accepted (and must still be stored), the rest not yet created
    wait_for(lambda: Render.objects.exclude(provider_video_id="").count() >= 4, 60, "a few jobs to be accepted")
    run.control.set_key("sk-invalid", valid=False)
    wait_for(lambda: ApiKey.objects.get(pk=key.pk).state == KeyState.INVALID, 30, "the key to be marked invalid")
    wait_for(lambda: sum(n for request, n in run.control.counters("sk-invalid")["requests"].items()
                         if request.endswith(" 401")) >= 3, 30, "three requests refused with 401")
    time.sleep(2.0)  # longer than every retry of the pipeline: renders wait for the key, they do not give up
    assert not Render.objects.filter(status=Status.FAILED).exists(), "a render failed while its key was invalid"
    assert Render.objects.filter(status__in=NOT_SENT).exists()

    run.control.set_key("sk-invalid", valid=True)
    keyadmin.enable(key, staff)
    wait_all_final(run, matrix_worker)
    check_run(run, matrix_worker)


# --- a killed worker -------------------------------------------------------------------------------------------

PADDED_MB = 12


@pytest.fixture(scope="module")
def padded_sim():
    """A sorasim whose MP4s are padded to 12 MB, so a download takes long enough to be caught half-way."""
    with start_sorasim(*DEFAULT_ARGS, "--pad-mb", str(PADDED_MB)) as process:
        yield process


def _partial_video(downloads):
    """(render id, part file, size) of a video being downloaded right now (its part file, render-<id>-video-<claim
    token>.part, holds some bytes), or None."""
    for entry in os.scandir(downloads):
        if entry.name.endswith(".part") and "-video-" in entry.name:
            try:
                size = entry.stat().st_size
            except FileNotFoundError:
                continue
            if size > 0:
                return int(entry.name.split("-")[1]), Path(entry.path), size
    return None


def _sending():
    return Render.objects.filter(status=Status.SENDING).exists()


def _create_on_the_wire():
    return Render.objects.filter(status=Status.SENDING, provider_video_id="", heartbeat_at__isnull=False).exists()


def test_a_worker_killed_while_its_create_is_on_the_wire_loses_no_render_and_pays_once(
        alice, sim, live_server, matrix_worker):
    run = make_run("killed-create", sim, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    # each create takes 0.8 s at the provider (under the client's 1 s timeout): a kill lands while one is on its way
    run.control.patch_faults(latency_ms=800, latency_endpoints=["create"])
    run.submit(RENDERS)
    for _ in range(3):
        wait_for(_create_on_the_wire, 60, "a create on its way to the provider", every=0.005)
        matrix_worker.kill()  # SIGKILL: the answer, if one comes, reaches nobody
        matrix_worker.restart()
    wait_all_final(run, matrix_worker, timeout=120)
    # the reconciler found each lost create's job in the list (adopted), or proved there was none (sent again)
    assert run.statuses() == {Status.COMPLETED: RENDERS}, describe(run, matrix_worker)
    quiet = Render.objects.filter(events__source="reconciler", events__message__contains="quiet while sending")
    assert quiet.distinct().count() >= 3
    check_run(run, matrix_worker)  # paid once: sorasim's billed jobs are exactly the renders' jobs


def test_a_worker_killed_while_downloading_is_recovered_without_a_second_create(
        alice, padded_sim, live_server, matrix_worker, matrix_dirs):
    run = make_run("killed", padded_sim, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    run.submit(RENDERS)
    kills = []
    for _ in range(3):
        # a download in progress while no create is on its way: a kill between a create's send and its arrival
        # at the provider leaves an outcome the reconciler can only give up (failed, refunded), not this test's case
        caught = wait_for(lambda: _partial_video(matrix_dirs.downloads) if not _sending() else None, 60,
                          "a download in progress and no create on its way", every=0.005)
        matrix_worker.kill()  # SIGKILL, the pool's children included: nothing is acknowledged or cleaned up
        render_id, part, size = caught
        assert part.exists() and part.stat().st_size >= size  # a partial file is left on disk
        kills.append((render_id, part.stat().st_size))
        assert Render.objects.get(pk=render_id).status == Status.DOWNLOADING
        matrix_worker.restart()
    wait_all_final(run, matrix_worker, timeout=120)
    assert len(kills) >= 3
    for render_id, partial in kills:
        render = Render.objects.get(pk=render_id)
        assert render.status == Status.COMPLETED
        stored = render.video.path
        # downloaded again in full, not kept half-way (a kill can also land after the last byte, before the rename)
        assert partial <= os.path.getsize(stored) == PADDED_MB * 1024 * 1024
        assert abs(probe_video(stored)["duration"] - 4) < 0.2
        assert render.events.filter(source="reconciler", message__contains="quiet").exists()
    assert not list(matrix_dirs.downloads.glob("*.part")), "partial files were left behind"
    counters = run.control.counters("sk-test-1")
    assert counters["creates_attempted"] == counters["creates_accepted"] == RENDERS
    check_run(run, matrix_worker)

