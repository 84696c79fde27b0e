"""A worker process frozen (SIGSTOP) past the time that makes it look dead, then resumed (SIGCONT), while it holds a
render: the reaper gives the render to another process, and when the frozen one wakes it finds its claim taken
(renders.pipeline.claim's attempt token) and sends and writes nothing: no second job, no corrupted file.

Real Celery workers (prefork: the frozen process is one pool child, its sibling takes over), sorasim over HTTP,
PostgreSQL and Redis."""

import os
import re
import signal

import pytest

from renders.models import EventKind, WorkerBeat
from renders.states import Status
from tests.fixtures.sorasim import API_KEY, make_sim_key, probe_video
from tests.fixtures.waits import wait_for, wait_status
from tests.fixtures.world import submit

pytestmark = [
    pytest.mark.slow(60),
    pytest.mark.integration,
    pytest.mark.postgres_only("a frozen worker's fencing is proven on the production stack: PostgreSQL and Redis"),
    pytest.mark.django_db(transaction=True),
]

# the beat settings' production defaults (a process silent for 15 s is dead), the pipeline's short test times
WORKER_SETTINGS = {"WORKER_BEAT_SECONDS": "5", "WORKER_DEAD_AFTER_SECONDS": "15", "RENDER_REAP_INTERVAL_SECONDS": "5"}
LATENCY_MS = 12_000  # the frozen process's request waits this long at the provider: it is asleep when the answer comes
TAKEN_OVER = re.compile(rb"render (\d+) was taken over")


def holder_pid(render):
    """The pid of the pool child that holds the render now, or None."""
    render.refresh_from_db()
    if render.heartbeat_at is None or not render.claimed_by:
        return None
    beat = WorkerBeat.objects.filter(name=render.claimed_by, stopped_at__isnull=True).first()
    return beat.pid if beat else None


class Frozen:
    """SIGSTOP a process now; SIGCONT it on resume() (and at the latest when the test ends)."""

    def __init__(self, pid):
        self.pid = pid
        os.kill(pid, signal.SIGSTOP)

    def resume(self):
        if self.pid:
            os.kill(self.pid, signal.SIGCONT)
            self.pid = None


@pytest.fixture
def freeze():
    frozen = []

    def stop(pid):
        frozen.append(Frozen(pid))
        return frozen[-1]

    yield stop
    for process in frozen:
        process.resume()


def test_a_download_frozen_past_the_dead_time_and_resumed_stores_nothing(
        alice, project, sim, live_server, start_worker, freeze, tmp_path):
    downloads = tmp_path / "downloads"
    make_sim_key(sim, live_server)
    sim.control.patch_faults(latency_ms=LATENCY_MS, latency_endpoints=["content"])  # the download waits for bytes
    worker = start_worker(SITE_URL=live_server.url, RENDER_DOWNLOAD_DIR=downloads, **WORKER_SETTINGS)
    render = submit(alice, project)
    wait_status(render, Status.DOWNLOADING, worker=worker)
    pid = wait_for(lambda: holder_pid(render), timeout=30, every=0.05, what="the download's holder", worker=worker)
    frozen = freeze(pid)
    sim.control.patch_faults(latency_ms=0)  # the sibling's download is quick; the frozen one's still waits

    resumed = wait_for(lambda: render.events.filter(kind=EventKind.RETRY, source="reconciler").first(), timeout=40,
                       every=0.1, what="the reaper to resume the frozen process's render", worker=worker)
    assert "quiet" in resumed.message
    wait_status(render, Status.COMPLETED, worker=worker)  # stored by the sibling while the holder is frozen
    assert holder_pid(render) is None

    frozen.resume()  # it wakes inside its download, its answer at hand
    wait_for(lambda: TAKEN_OVER.search(worker.log_path.read_bytes()), timeout=30, every=0.1,
             what="the resumed process to find its claim taken", worker=worker)

    render.refresh_from_db()
    assert render.status == Status.COMPLETED
    video = render.video.path
    assert abs(probe_video(video)["duration"] - 4) < 0.2  # whole, not two attempts' bytes interleaved
    assert sorted(os.listdir(os.path.dirname(video))) == sorted(  # no copy of the stale attempt left in storage
        os.path.basename(render.asset(variant).name) for variant in ("video", "thumbnail", "spritesheet"))
    assert render.events.filter(message__startswith="Stored the video").count() == 1
    assert not list(downloads.glob("*.part"))
    assert sim.control.counters(API_KEY)["creates_accepted"] == 1


def test_a_create_frozen_on_the_wire_and_resumed_makes_no_second_job(
        alice, project, sim, live_server, start_worker, freeze):
    make_sim_key(sim, live_server)
    sim.control.patch_faults(latency_ms=LATENCY_MS, latency_endpoints=["create"])  # the create is on its way
    worker = start_worker(SITE_URL=live_server.url, **WORKER_SETTINGS)
    render = submit(alice, project)
    wait_status(render, Status.SENDING, worker=worker)
    pid = wait_for(lambda: holder_pid(render), timeout=30, every=0.05, what="the create's holder", worker=worker)
    frozen = freeze(pid)

    # the reaper finds the holder dead, the reconciler finds the job in the provider's list and adopts it
    adopted = wait_for(lambda: render.events.filter(kind=EventKind.ADOPTED).first(), timeout=60, every=0.1,
                       what="the job to be adopted from the provider's list", worker=worker)
    assert render.events.filter(source="reconciler", message__contains="quiet while sending").exists()
    frozen.resume()  # it wakes with the create's answer: the render has its job already
    wait_status(render, Status.COMPLETED, worker=worker)

    counters = sim.control.counters(API_KEY)
    assert counters["creates_attempted"] == counters["creates_accepted"] == 1  # no second job
    assert render.provider_video_id in adopted.message
    assert abs(probe_video(render.video.path)["duration"] - 4) < 0.2
