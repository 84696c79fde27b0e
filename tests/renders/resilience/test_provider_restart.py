"""The provider killed (SIGKILL, not a clean stop) while creates are on their way, and started again on the same port
with the same data dir: every render completes, none fails, and the provider billed exactly the renders' jobs.

A create the provider had not answered when it died is an outcome unknown to the worker; the reconciler lists the
key's jobs once the provider is back (it kept them on disk) and adopts the job, or sends the create again where the
listing proves there is none. Creates and polls sent while it is down are refused at the door and tried again.

sorasim runs as this module's own process (the restart would break the shared one for other tests); the worker is
the fault matrix's (tests/renders/resilience/conftest.py). The checks are the matrix's (`check_run`), the billed
jobs counted from the jobs sorasim kept, since its counters start again at zero with the process. It runs on either
stack the test run names: PostgreSQL + Redis, or SQLite + the embedded broker (the worker takes the run's).
"""

import pytest

from renders.models import EventKind, Render, RenderEvent
from renders.states import Status
from tests.fixtures.sorasim import DEFAULT_ARGS, start_sorasim
from tests.fixtures.waits import wait_for
from tests.renders.resilience.harness import add_key, check_run, describe, make_run, wait_all_final

pytestmark = [
    pytest.mark.slow(25),  # the longest measured under load (two CPU hogs): 20 s
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

RENDERS = 12
KILLS = 2
NO_ANSWER = "was sent but no answer came back"


@pytest.fixture(scope="module")
def restartable_sim(tmp_path_factory):
    """A sorasim of this module's own, keeping its jobs, keys and credit in a data dir that outlives a kill. Each
    create waits 0.8 s there before it is accepted (under the client's 1 s timeout), so a kill lands while one is on
    its way; a start option, so the restarted process has it from its first request on."""
    data_dir = tmp_path_factory.mktemp("sorasim-data")
    with start_sorasim(*DEFAULT_ARGS, "--data-dir", str(data_dir), "--latency-ms", "800",
                       "--latency-endpoints", "create") as process:
        yield process


def _creates_arrived(control, key):
    """Creates that reached this sorasim process (each one's latency is counted as it begins)."""
    return control.counters(key)["faults_fired"].get("latency", 0)


def _creates_left_unanswered():
    return RenderEvent.objects.filter(kind=EventKind.ERROR, message__contains=NO_ANSWER).count()


def test_the_provider_killed_and_restarted_while_creates_are_in_flight_loses_no_render_and_bills_each_once(
        alice, restartable_sim, live_server, matrix_worker):
    sim = restartable_sim
    run = make_run("provider-restart", sim, live_server, alice)
    add_key(run, "sk-test-1", live_server, credit_usd=1000)
    run.submit(RENDERS)
    for kill in range(KILLS):
        if kill:  # the later kills also with jobs under way at the provider, which must go on from its disk
            wait_for(lambda: Render.objects.exclude(provider_video_id="").exists(), 60, "a job at the provider")
        # a create that arrives after this look has its 0.8 s at the provider ahead of it: no job made, no answer
        seen = _creates_arrived(run.control, "sk-test-1")
        wait_for(lambda seen=seen: _creates_arrived(run.control, "sk-test-1") > seen, 60,
                 "a create arriving at the provider", every=0.005)
        unanswered = _creates_left_unanswered()
        sim.kill()  # SIGKILL: the create being waited on dies with the process, its connection cut
        # down until the worker has felt it: the create on the wire came back with no answer (outcome unknown)
        wait_for(lambda n=unanswered: _creates_left_unanswered() > n, 30,
                 f"a create the killed provider never answered (kill {kill + 1})", every=0.05)
        sim.start()  # the same port and data dir: the jobs, keys and credit on disk, its counters back at zero
    wait_all_final(run, matrix_worker, timeout=120)

    assert run.statuses() == {Status.COMPLETED: RENDERS}, describe(run, matrix_worker)
    assert _creates_left_unanswered() >= KILLS
    # every unanswered create was settled by a listing of the restarted provider: its job adopted, or sent again
    # where the listing had none (these were killed before the provider made a job: sent again)
    unanswered = Render.objects.filter(events__kind=EventKind.ERROR, events__message__contains=NO_ANSWER).distinct()
    for render in unanswered:
        assert render.events.filter(source="reconciler", kind__in=(EventKind.ADOPTED, EventKind.RETRY)).exists(), (
            describe(run, matrix_worker))
    check_run(run, matrix_worker, billed_from_jobs=True)  # billed jobs (kept on disk) = the renders' jobs
    assert len(run.control.videos("sk-test-1")) == RENDERS  # one job each: none lost, none made twice
    # and the money at the provider agrees: the credit kept across the kills is what the run's jobs cost
    spent = sum(job["cost_usd"] for job in run.control.videos("sk-test-1") if not job["refunded"])
    assert run.control.key("sk-test-1")["credit_usd"] == pytest.approx(1000 - spent)
