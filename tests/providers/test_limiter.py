import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from providers import limiter
from providers.models import ApiKey, KeyLimit, KeyState, RequestSlot


def make_key(**fields):
    key = ApiKey(name="k", base_url="http://127.0.0.1:1/v1", **fields)
    key.secret = "sk-test-limiter-0000"
    key.save()
    return key


def run_concurrently(count, fn):
    """count threads, each with its own database connection, released together by a barrier."""
    barrier = threading.Barrier(count)

    def worker(_):
        try:
            barrier.wait()
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(worker, range(count)))


@pytest.mark.django_db(transaction=True)
def test_it_grants_exactly_rpm_requests_to_concurrent_workers():
    key = make_key(rpm_limit=10)
    waits = run_concurrently(50, lambda: limiter.acquire_request(key.pk))
    assert waits.count(0.0) == 10
    denied = [w for w in waits if w]
    assert len(denied) == 40
    # the wait is the time until the first slot is 60 s old again
    assert all(55 < w <= 60 + limiter.WINDOW_MARGIN.total_seconds() for w in denied), denied
    assert RequestSlot.objects.filter(key=key, used_at__gt=timezone.now() - timedelta(seconds=60)).count() == 10


@pytest.mark.django_db(transaction=True)
def test_it_never_lets_jobs_in_flight_exceed_max_concurrent():
    key = make_key(max_concurrent=3)
    peak = 0
    lock = threading.Lock()
    in_flight = 0

    def job():
        nonlocal peak, in_flight
        granted = 0
        for _ in range(20):
            if limiter.acquire_job_slot(key.pk):
                granted += 1
                with lock:  # the test's own bookkeeping, not the limiter's
                    in_flight += 1
                    peak = max(peak, in_flight)
                    observed = KeyLimit.objects.get(key=key).jobs_in_flight
                    assert observed <= 3
                with lock:
                    in_flight -= 1
                limiter.release_job_slot(key.pk)
        return granted

    granted = run_concurrently(12, job)
    assert sum(granted) > 0
    assert peak <= 3
    assert KeyLimit.objects.get(key=key).jobs_in_flight == 0


@pytest.mark.django_db(transaction=True)
def test_it_grants_exactly_max_concurrent_slots_at_once():
    key = make_key(max_concurrent=4)
    results = run_concurrently(30, lambda: limiter.acquire_job_slot(key.pk))
    assert results.count(True) == 4
    assert KeyLimit.objects.get(key=key).jobs_in_flight == 4


@pytest.mark.django_db
def test_it_never_releases_below_zero():
    key = make_key(max_concurrent=2)
    assert limiter.acquire_job_slot(key.pk)
    limiter.release_job_slot(key.pk)
    limiter.release_job_slot(key.pk)
    limiter.release_job_slot(key.pk)
    assert limiter.jobs_in_flight(key.pk) == 0
    assert limiter.acquire_job_slot(key.pk) and limiter.acquire_job_slot(key.pk)
    assert not limiter.acquire_job_slot(key.pk)


@pytest.mark.timing("a slot frees 60 s after use: the wait asserted is over 45 s")
@pytest.mark.django_db
def test_it_frees_a_request_slot_60_seconds_after_use():
    key = make_key(rpm_limit=2)
    assert limiter.acquire_request(key.pk) == 0.0
    assert limiter.acquire_request(key.pk) == 0.0
    assert limiter.acquire_request(key.pk) > 45  # about 60 s; 15 s of margin for a slow machine between calls
    # one slot was used 61 s ago: it is free again, the other is not
    slot = RequestSlot.objects.filter(key=key).order_by("n").first()
    RequestSlot.objects.filter(pk=slot.pk).update(used_at=timezone.now() - timedelta(seconds=61))
    assert limiter.acquire_request(key.pk) == 0.0
    assert limiter.acquire_request(key.pk) > 45


@pytest.mark.django_db
def test_it_follows_a_changed_rpm_limit():
    key = make_key(rpm_limit=1)
    assert limiter.acquire_request(key.pk) == 0.0
    assert limiter.acquire_request(key.pk) > 0
    ApiKey.objects.filter(pk=key.pk).update(rpm_limit=3)
    assert limiter.acquire_request(key.pk) == 0.0
    assert limiter.acquire_request(key.pk) == 0.0
    assert limiter.acquire_request(key.pk) > 0
    ApiKey.objects.filter(pk=key.pk).update(rpm_limit=2)
    assert limiter.acquire_request(key.pk) > 0
    assert limiter.usage(key.pk)["requests_last_minute"] == 2


@pytest.mark.django_db
def test_it_pauses_the_key_for_every_worker():
    key = make_key(rpm_limit=100)
    until = limiter.pause(key.pk, 30, "429 from the provider")
    key.refresh_from_db()
    assert key.state == KeyState.RATE_LIMITED
    assert key.paused_until == until
    assert key.last_error == "429 from the provider"
    assert 29 < limiter.acquire_request(key.pk) <= 30
    assert not key.takes_new_work


@pytest.mark.django_db
def test_it_never_shortens_a_longer_pause():
    key = make_key()
    long_until = limiter.pause(key.pk, 120, "long")
    assert limiter.pause(key.pk, 5, "short") == long_until
    key.refresh_from_db()
    assert key.paused_until == long_until
    assert key.last_error == "long"
    longer = limiter.pause(key.pk, 300, "longer")
    assert longer > long_until


@pytest.mark.django_db
def test_it_keeps_a_worse_state_while_paused():
    key = make_key(state=KeyState.OUT_OF_CREDIT)
    limiter.pause(key.pk, 10)
    key.refresh_from_db()
    assert key.state == KeyState.OUT_OF_CREDIT
    assert key.paused_until is not None


@pytest.mark.django_db
def test_it_puts_the_key_back_to_work_after_the_pause():
    key = make_key()
    limiter.pause(key.pk, 10)
    ApiKey.objects.filter(pk=key.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    assert limiter.acquire_request(key.pk) == 0.0
    key.refresh_from_db()
    assert key.state == KeyState.ACTIVE
    assert key.takes_new_work


@pytest.mark.django_db
def test_it_resumes_on_demand():
    key = make_key()
    limiter.pause(key.pk, 100)
    limiter.resume(key.pk)
    key.refresh_from_db()
    assert key.state == KeyState.ACTIVE and key.paused_until is None
    assert limiter.acquire_request(key.pk) == 0.0


@pytest.mark.django_db
def test_it_treats_zero_as_no_limit_of_our_own():
    key = make_key(rpm_limit=0, max_concurrent=0)
    assert all(limiter.acquire_request(key.pk) == 0.0 for _ in range(5))
    assert all(limiter.acquire_job_slot(key.pk) for _ in range(5))
    assert limiter.jobs_in_flight(key.pk) == 5


@pytest.mark.django_db
def test_it_resyncs_jobs_in_flight():
    key = make_key(max_concurrent=2)
    limiter.acquire_job_slot(key.pk)
    limiter.acquire_job_slot(key.pk)
    limiter.set_jobs_in_flight(key.pk, 0)  # the reaper found no render in flight on the key
    assert limiter.acquire_job_slot(key.pk)
    assert limiter.usage(key.pk) == {
        "requests_last_minute": 0, "rpm_limit": 25, "jobs_in_flight": 1, "max_concurrent": 2, "paused_until": None,
    }


@pytest.mark.django_db
def test_it_survives_an_admin_saving_the_key():
    key = make_key(max_concurrent=2)
    stale = ApiKey.objects.get(pk=key.pk)
    limiter.acquire_job_slot(key.pk)
    limiter.pause(key.pk, 60)
    stale.name = "renamed"
    stale.save()  # a stale copy written back in full...
    assert limiter.jobs_in_flight(key.pk) == 1  # ...cannot touch the counters, they live apart


def test_it_is_exact_on_sqlite_too(tmp_path):
    # the same races on a SQLite file, as `make run` uses it (a subprocess: the suite's database is PostgreSQL)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SORAWEB_VAR_DIR=str(tmp_path), SORAWEB_TESTING="1")
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("sqlite_limiter_check.py")), "10", "4"],
        env=env, capture_output=True, text=True, timeout=120, cwd=settings.BASE_DIR,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "requests=10 jobs=4"
