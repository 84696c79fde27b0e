"""Which worker processes are alive. Each process that claims renders beats its WorkerBeat row from a thread every
WORKER_BEAT_SECONDS, so the reaper (renders.reconcile.reap_quiet) can tell within seconds that a worker was killed,
while a render's own heartbeat stays as long as a slow download needs (RENDER_HEARTBEAT_STALE_SECONDS).

Celery's prefork pool does the work in its children: each child beats (worker_process_init), and the main process,
which claims nothing, does not. A solo or threads pool works in the main process, which then beats (worker_ready).
"""

import contextlib
import logging
import os
import socket
import threading
import time
import uuid

from celery import signals
from celery.concurrency.prefork import TaskPool as PreforkPool
from django.conf import settings
from django.db import connection
from django.db.models.functions import Now

from renders.models import WorkerBeat

log = logging.getLogger(__name__)


class Beat:
    """This process's beat: a daemon thread with a database connection of its own."""

    def __init__(self):
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.steady_since = None  # monotonic: since when every beat was stamped in time
        self.last_stamp = None  # monotonic: the last beat stamped
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-beat", daemon=True)

    def start(self):
        self._thread.start()
        # the row exists before the first claim names it (a claim of a worker without a row falls back to the
        # render's heartbeat, so a slow database only costs the fast detection, never a render)
        self._first.wait(timeout=10)
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            WorkerBeat.objects.filter(name=self.name).update(stopped_at=Now())
        except Exception:  # the database is gone too: the beat simply stops, which says the same a little later
            log.warning("worker beat %s: could not record the stop", self.name, exc_info=True)

    def _run(self):
        try:
            while not self._stop.is_set():
                self.stamp()
                self._first.set()
                self._stop.wait(settings.WORKER_BEAT_SECONDS)
        finally:
            connection.close()

    def stamp(self):
        try:
            if not WorkerBeat.objects.filter(name=self.name).update(beat_at=Now()):
                WorkerBeat.objects.create(name=self.name, host=socket.gethostname(), pid=os.getpid())
        except Exception:  # the database is down: no beat this time; the thread must go on (it is the worker's life)
            log.warning("worker beat %s: could not stamp", self.name, exc_info=True)
            if not connection.in_atomic_block:
                with contextlib.suppress(Exception):
                    connection.close()  # the next beat connects afresh (the database may have restarted)
            return
        now = time.monotonic()
        if self.last_stamp is None or now - self.last_stamp > 2 * settings.WORKER_BEAT_SECONDS:
            self.steady_since = now  # the first beat, or the first after a gap: a new streak
        self.last_stamp = now

    def steady(self):
        """Whether this process has stamped on time for two beat intervals: then every live worker whose database
        works has stamped since, too, and silence means death. Right after an outage of the database every beat is
        old, the living's as well, so the reaper waits for that."""
        if self.last_stamp is None:
            return False
        now = time.monotonic()
        interval = settings.WORKER_BEAT_SECONDS
        return now - self.last_stamp <= 2 * interval and now - self.steady_since >= 2 * interval


_beat = None  # this process's Beat, when it claims renders


def start():
    global _beat
    if _beat is None:
        _beat = Beat().start()
    return _beat


def stop():
    global _beat
    if _beat is not None:
        _beat.stop()
        _beat = None


def name():
    """The name a claim records (Render.claimed_by): this process's beat, or "" where nothing beats (a shell, the
    web, a test calling the pipeline), whose claims only the render's heartbeat guards."""
    return _beat.name if _beat is not None else ""


def may_judge_others():
    """Whether this process may take another worker's silence for death (see Beat.steady). A process without a beat
    (a test, a shell) trusts the database's clock alone."""
    return _beat is None or _beat.steady()


@signals.worker_process_init.connect
def _beat_in_pool_child(**kwargs):
    global _beat
    _beat = None  # a Beat of the parent does not survive the fork (its thread is not here)
    start()


@signals.worker_process_shutdown.connect
def _stop_in_pool_child(**kwargs):
    stop()


@signals.worker_ready.connect
def _beat_in_main_process(sender=None, **kwargs):
    if not isinstance(getattr(sender, "pool", None), PreforkPool):
        start()  # solo or threads: this process does the work


@signals.worker_shutdown.connect
def _stop_in_main_process(**kwargs):
    stop()
