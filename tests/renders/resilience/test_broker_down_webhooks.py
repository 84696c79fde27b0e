"""Webhooks that arrive while the broker is down: the deliveries are stored and answered, their renders are made
due at once, and every render completes within seconds of the broker's return, not at the safety-net poll minutes
later. A real worker on the module's own redis-server, sorasim over HTTP, webhooks to the live server.

The safety-net poll is five minutes here (the default), so nothing but the mechanism under test can finish the
renders within the deadline: twice the 30 s target."""

import time

import pytest

from renders.models import Render, WebhookDelivery
from renders.states import AT_PROVIDER, Status
from tests.fixtures.waits import wait_for
from tests.renders.resilience.conftest import worker_on_own_redis
from tests.renders.resilience.harness import add_key, check_run, describe, make_run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow(40),
    pytest.mark.postgres_only("a fault-matrix run: the production stack (PostgreSQL, Redis) with its broker down"),
    pytest.mark.django_db(transaction=True),
]

RENDERS = 6
SAFETY_NET = 300  # RENDER_POLL_WITH_WEBHOOKS_SECONDS's default
TARGET = 30  # seconds from the broker's return to every render completed


@pytest.fixture
def webhook_worker(django_db_setup, django_db_blocker, live_server, matrix_dirs, own_redis, settings):
    settings.RENDER_POLL_WITH_WEBHOOKS_SECONDS = SAFETY_NET
    with worker_on_own_redis(matrix_dirs, live_server, own_redis,
                             RENDER_POLL_WITH_WEBHOOKS_SECONDS=SAFETY_NET) as process:
        yield process


def test_renders_whose_webhooks_came_while_the_broker_was_down_complete_soon_after_it_returns(
        alice, sorasim_shared, live_server, webhook_worker, own_redis):
    run = make_run("broker-webhooks", sorasim_shared, live_server, alice)
    add_key(run, "sk-test-1", live_server)
    run.control.patch_faults(job_seconds=4)  # long enough to take the broker down while every job runs
    run.submit(RENDERS)
    wait_for(lambda: all(r.provider_video_id and r.status in AT_PROVIDER for r in run.refresh()), 30,
             "every job to be accepted")
    own_redis.stop()
    try:
        wait_for(lambda: WebhookDelivery.objects.filter(event_type="video.completed").count() == RENDERS, 30,
                 "every job's video.completed webhook to arrive")
    except AssertionError:
        raise AssertionError(describe(run, webhook_worker)) from None
    time.sleep(2.0)  # the broker stays down a little longer: nothing may move meanwhile
    assert not Render.objects.exclude(status__in=AT_PROVIDER).exists()
    # stored, answered, unapplied; each render due now rather than at the safety-net poll
    assert not WebhookDelivery.objects.filter(applied_at__isnull=False).exists()
    assert all(r.next_attempt_at and r.next_attempt_at.timestamp() < time.time() for r in run.refresh())

    own_redis.start()
    back = time.monotonic()
    try:
        wait_for(lambda: all(r.status == Status.COMPLETED for r in run.refresh()), 2 * TARGET,
                 "every render to complete after the broker's return")
    except AssertionError:
        raise AssertionError(describe(run, webhook_worker)) from None
    print(f"every render completed {time.monotonic() - back:.1f} s after the broker's return")
    check_run(run, webhook_worker)
