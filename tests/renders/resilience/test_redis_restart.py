"""The fault matrix's broker run: Redis restarted mid-run, three times, empty each time (no persistence), while a
real Celery worker (beat embedded) works through 20 renders. The module runs its OWN redis-server on a free port
(tests/fixtures/redis_server.py), used by the worker (broker and cache) and by this process (submits and the
webhooks the live server receives); the machine's shared Redis is never touched.

Queued and unacknowledged messages vanish with each restart: the renders' next_attempt_at (the dispatcher) and
the reaper bring the work back; a submit while Redis is down still succeeds; beat and the worker survive.
"""

import time

import pytest

from renders.models import Render
from renders.states import AT_PROVIDER, Status
from tests.fixtures.waits import wait_for
from tests.renders.resilience.conftest import worker_on_own_redis
from tests.renders.resilience.harness import add_key, check_run, describe, make_run, wait_all_final

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres_only("a fault-matrix run: the production stack (PostgreSQL, Redis) through Redis restarts"),
    pytest.mark.django_db(transaction=True),
]

RENDERS = 20


@pytest.fixture(scope="module")
def redis_worker(django_db_setup, django_db_blocker, live_server, matrix_dirs, own_redis):
    with worker_on_own_redis(matrix_dirs, live_server, own_redis) as process:
        yield process


@pytest.mark.slow(60)
def test_redis_restarted_mid_run_loses_no_render(alice, sorasim_shared, live_server, redis_worker, own_redis):
    run = make_run("redis", sorasim_shared, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    run.submit(8)
    for restart in range(3):
        # each restart lands while renders are at every stage: some sending, some at the provider, some storing
        try:
            wait_for(lambda n=restart: Render.objects.exclude(provider_video_id="").count() >= 2 + 5 * n
                     or not Render.objects.filter(status__in=[*AT_PROVIDER, Status.SUBMITTING]).exists(),
                     60, "renders in flight")
        except AssertionError:
            raise AssertionError(f"before restart {restart}\n" + describe(run, redis_worker, limit=30)) from None
        own_redis.stop()
        if restart == 1:
            run.submit(4)  # submits while the broker is down still succeed; the dispatcher sends them later
        time.sleep(1.0)
        own_redis.start()
        log_mark = len(redis_worker.log_path.read_bytes())
        run.submit(4)
    assert own_redis.starts == 4 and len(run.renders) >= RENDERS  # started once, restarted three times
    wait_all_final(run, redis_worker, timeout=120)
    assert redis_worker.alive
    # beat outlived the restarts: it still sends its ticks (renders alone would not show it: their own messages,
    # sent on commit, could carry them to the end)
    wait_for(lambda: b"/Beat] Scheduler: Sending due task renders-reconcile" in
             redis_worker.log_path.read_bytes()[log_mark:], 10, "beat to tick after the last restart")
    check_run(run, redis_worker)
