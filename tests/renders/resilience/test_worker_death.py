"""A killed worker's renders move again in seconds, through its stopped beat (renders.workers), while the render
heartbeat keeps the long RENDER_HEARTBEAT_STALE_SECONDS a slow download needs; a worker that beats keeps its render
however long the download has been silent.

Real Celery workers (prefork, beat embedded) at the production defaults of the beat settings, sorasim over HTTP,
PostgreSQL and Redis."""

import os
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from renders.models import EventKind, WorkerBeat
from renders.states import Status
from tests.fixtures.sorasim import API_KEY, make_sim_key
from tests.fixtures.waits import wait_for, wait_status
from tests.fixtures.world import submit

pytestmark = [
    pytest.mark.slow(90),
    pytest.mark.integration,
    pytest.mark.postgres_only("a killed worker's recovery is proven on the production stack: PostgreSQL and Redis"),
    pytest.mark.django_db(transaction=True),
]

TARGET_SECONDS = 30  # from a worker's SIGKILL to its renders moving again (bench/bench_worker_recovery.py measures)
# the production defaults, spelled out: the test proves them, not shrunk ones
WORKER_SETTINGS = {
    "RENDER_HEARTBEAT_STALE_SECONDS": "180",
    "WORKER_BEAT_SECONDS": "5",
    "WORKER_DEAD_AFTER_SECONDS": "15",
    "RENDER_REAP_INTERVAL_SECONDS": "5",
    "PROVIDER_TIMEOUT_SECONDS": "300",  # the silent download must outlast the test, not time out by itself
}
REAPED = re.compile(rb"Task renders\.tasks\.reap_quiet_renders\[[^\]]+\] succeeded")


def held_by(worker, render):
    """Whether the render is held (heartbeat set) by a pool child of `worker` (a WorkerProcess)."""
    render.refresh_from_db()
    if render.heartbeat_at is None or not render.claimed_by:
        return False
    beat = WorkerBeat.objects.filter(name=render.claimed_by).first()
    return beat is not None and _in_group(beat, worker)


def reaps(worker):
    return len(REAPED.findall(worker.log_path.read_bytes()))


def test_a_killed_workers_download_is_resumed_by_another_worker_within_twice_the_target(
        alice, project, sim, live_server, start_worker):
    make_sim_key(sim, live_server)
    # the video's download gets no byte for minutes: its render heartbeat is never refreshed, as on a slow provider
    sim.control.patch_faults(latency_ms=600_000, latency_endpoints=["content"])
    first = start_worker(SITE_URL=live_server.url, **WORKER_SETTINGS)
    render = submit(alice, project)
    wait_status(render, Status.DOWNLOADING, worker=first)
    wait_for(lambda: held_by(first, render), timeout=30, every=0.1, what="the download to start", worker=first)
    claimed_at, holder = render.heartbeat_at, render.claimed_by

    # alive: the heartbeat grows older than WORKER_DEAD_AFTER and the reaper runs twice more; the render stays held
    wait_for(lambda: timezone.now() - claimed_at > timedelta(seconds=16), timeout=60,
             what="the render's heartbeat to be older than WORKER_DEAD_AFTER_SECONDS", worker=first)
    seen = reaps(first)
    wait_for(lambda: reaps(first) >= seen + 2, timeout=60, what="two more reaps", worker=first)
    render.refresh_from_db()
    assert (render.heartbeat_at, render.claimed_by, render.status) == (claimed_at, holder, Status.DOWNLOADING)
    assert not render.events.filter(source="reconciler").exists()

    second = start_worker(SITE_URL=live_server.url, **WORKER_SETTINGS)
    first.kill()  # SIGKILL, the pool's children included: the render is left held, its heartbeat far from 180 s
    killed = time.monotonic()
    sim.control.patch_faults(latency_ms=0)
    resumed = wait_for(lambda: render.events.filter(kind=EventKind.RETRY, source="reconciler").first(),
                       timeout=2 * TARGET_SECONDS, every=0.1, what="the reaper to resume the killed worker's render",
                       worker=second)
    print(f"resumed {time.monotonic() - killed:.1f} s after the kill")
    assert "quiet" in resumed.message
    assert WorkerBeat.dead().filter(name=holder).exists()

    wait_status(render, Status.COMPLETED, worker=second)
    assert held_by(second, render) is False  # released when done...
    assert _in_group(WorkerBeat.objects.get(name=render.claimed_by), second)  # ...by the second worker
    assert render.video and os.path.getsize(render.video.path) > 0
    assert sim.control.counters(API_KEY)["creates_accepted"] == 1

    # a clean stop (SIGTERM, a warm shutdown) marks each of its processes stopped: dead at once, not 15 s later
    children = [beat.name for beat in WorkerBeat.objects.filter(stopped_at__isnull=True) if _in_group(beat, second)]
    assert len(children) == 2  # the prefork pool's children beat; the main process claims nothing and does not
    second.stop()
    assert WorkerBeat.objects.filter(name__in=children, stopped_at__isnull=False).count() == 2


def _in_group(beat, worker):
    try:
        return os.getpgid(beat.pid) == worker.proc.pid
    except ProcessLookupError:
        return False

