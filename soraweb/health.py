"""Liveness of the moving parts: database, broker, worker and beat heartbeats."""

import time

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection

BEAT_TICK_SECONDS = 5.0
_KEY = "heartbeat:{}"
STARTED = time.monotonic()  # when this process loaded: the start of its grace for processes not heard from yet


def stamp(name):
    cache.set(_KEY.format(name), time.time(), timeout=None)


def age(name):
    """Seconds since `name` last stamped, or None if it never did."""
    stamped = cache.get(_KEY.format(name))
    return None if stamped is None else max(0.0, time.time() - stamped)


def quiet_processes():
    """Names of the background processes (worker, beat) whose heartbeat is missing or stale."""
    return [
        name
        for name in ("worker", "beat")
        if (a := age(name)) is None or a > settings.HEARTBEAT_STALE_SECONDS
    ]


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker():
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def starting():
    """Within the start-up grace: a worker or beat that has not stamped yet is starting, not down."""
    return time.monotonic() - STARTED < settings.HEALTHZ_STARTUP_GRACE_SECONDS


def report():
    """A dict name -> "ok", "starting" (no heartbeat yet, within the start-up grace) or the reason it is down."""
    results = {}
    for name, check in (("database", check_database), ("broker", check_broker)):
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure is the answer, not a crash of the health check
            results[name] = f"down: {type(exc).__name__}"
    for name in ("worker", "beat"):
        a = age(name)
        if a is None:
            results[name] = "starting" if starting() else "down: no heartbeat yet"
        elif a > settings.HEARTBEAT_STALE_SECONDS:
            results[name] = f"down: last heartbeat {a:.0f}s ago"
        else:
            results[name] = "ok"
    return results
