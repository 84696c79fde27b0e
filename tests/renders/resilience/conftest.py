"""Fixtures of the fault matrix: ONE real Celery worker (beat embedded) per test module, shared by the module's
runs, with every wait, timeout and reaper age of the pipeline shrunk to 2 s or less; sorasim over HTTP; webhooks
to pytest-django's live_server; PostgreSQL; Redis (the shared one, or the module's own redis-server).

Each run (a test) starts from an empty database (transactional_db flushes it) and a reset sorasim, and ends only
when every render is final, so the worker is idle when the next run begins.
"""

from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tests.fixtures.redis_server import redis_server, start_redis_server  # noqa: F401 - the fixture, for broker runs
from tests.fixtures.worker import WorkerProcess, purge_queue, worker_env

# Every wait, timeout and reaper age of the pipeline, in seconds: none above 2. Bounds that a healthy run never
# reaches stay long, since shrunk they would fail renders that are merely slow: RENDER_TRACK_DEADLINE_SECONDS and
# RENDER_MAX_KEY_WAIT_SECONDS (each reached on purpose in test_pipeline_policy.py and tests/renders), and Celery's task
# time limits; RENDER_RECONCILE_WINDOW_SECONDS and _CLOCK_SKEW_SECONDS are matching tolerances, not waits.
MATRIX_PIPELINE = {
    "RENDER_DISPATCH_INTERVAL_SECONDS": "0.5",
    "RENDER_DISPATCH_LEASE_SECONDS": "2",
    "RENDER_HEARTBEAT_SECONDS": "0.5",
    "RENDER_HEARTBEAT_STALE_SECONDS": "2",
    "RENDER_POLL_INITIAL_SECONDS": "1",
    "RENDER_POLL_MIN_SECONDS": "0.5",
    "RENDER_POLL_MAX_SECONDS": "2",
    "RENDER_POLL_WITH_WEBHOOKS_SECONDS": "2",
    "RENDER_RETRY_BASE_SECONDS": "0.2",
    "RENDER_RETRY_MAX_SECONDS": "1",
    "RENDER_MAX_ATTEMPTS": "8",  # not a wait: 8 tries keep a 25 % fault from failing a render by bad luck
    "RENDER_KEY_RETRY_SECONDS": "1",
    "RENDER_RECONCILE_INTERVAL_SECONDS": "1",
    "RENDER_RECONCILE_AFTER_SECONDS": "1",
    "RENDER_RECONCILE_RESEND_AFTER_SECONDS": "2",
    "RENDER_ADOPT_WAIT_SECONDS": "2",
    "PROVIDER_TIMEOUT_SECONDS": "1",
    "PROVIDER_CONNECT_TIMEOUT_SECONDS": "0.5",
    "HEARTBEAT_SECONDS": "2",
    "RENDER_TRACK_DEADLINE_SECONDS": "120",
    "RENDER_MAX_KEY_WAIT_SECONDS": "120",
}
WORKER_CONCURRENCY = "2"


@pytest.fixture(scope="module")
def matrix_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    dirs = SimpleNamespace(media=root / "media", downloads=root / "downloads", worker=root / "worker")
    for path in vars(dirs).values():
        path.mkdir()
    return dirs


@pytest.fixture(autouse=True)
def _matrix_settings(_test_settings, settings, matrix_dirs):
    """The test process (submit, admin actions, reads of stored files) sees what the worker sees."""
    settings.MEDIA_ROOT = matrix_dirs.media
    settings.RENDER_DOWNLOAD_DIR = matrix_dirs.downloads
    for name, value in MATRIX_PIPELINE.items():
        setattr(settings, name, float(value) if "." in value else int(value))
    # room for every run's renders at once; the reservations still go through the guarded counters
    settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = None
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 1_000_000
    settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = Decimal("100000.00")


def start_matrix_worker(dirs, *, site_url, **overrides):
    purge_queue()
    values = {**MATRIX_PIPELINE, "MEDIA_ROOT": dirs.media, "RENDER_DOWNLOAD_DIR": dirs.downloads, "SITE_URL": site_url,
              "WORKER_CONCURRENCY": WORKER_CONCURRENCY, **overrides}  # an override replaces a matrix value
    env = worker_env(**values)
    return WorkerProcess(env, dirs.worker).start()


@pytest.fixture(scope="module")
def matrix_worker(django_db_setup, django_db_blocker, live_server, matrix_dirs):
    """The module's one worker, pointed at the test database; stopped (and the queue purged) after the module."""
    process = start_matrix_worker(matrix_dirs, site_url=live_server.url)
    yield process
    process.stop(timeout=5)  # every render is final: nothing is lost by cutting a slow warm shutdown short
    purge_queue()


def point_celery_at(url):
    """Send this process's tasks (submits, webhooks) to `url`: a fresh connection pool on the new broker."""
    from kombu import pools

    from soraweb.celery import app

    previous = app.conf.broker_url
    # kombu keeps pools in a global registry keyed by the connection: closing one in place would hand the same
    # closed pool back when we switch back to `previous` ("Acquire on closed pool"); reset empties the registry
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url
    return previous


@pytest.fixture(scope="module")
def own_redis():
    """The module's own redis-server (tests/fixtures/redis_server.py), free to stop and restart."""
    with start_redis_server() as server:
        yield server


@contextmanager
def worker_on_own_redis(dirs, live_server, own_redis, **overrides):
    """A matrix worker whose broker and cache are `own_redis`, and this process's tasks sent there too."""
    previous = point_celery_at(own_redis.url())
    process = start_matrix_worker(dirs, site_url=live_server.url, REDIS_URL=own_redis.url(), **overrides)
    try:
        yield process
    finally:
        process.stop(timeout=5)  # every render is final: nothing is lost by cutting a slow warm shutdown short
        if not own_redis.alive:
            own_redis.start()
        purge_queue()
        point_celery_at(previous)
