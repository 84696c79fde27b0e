import logging
import os
from datetime import timedelta

from celery import Celery
from celery.beat import Scheduler

from soraweb import health

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soraweb.settings")

logger = logging.getLogger(__name__)

app = Celery("soraweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class HeartbeatScheduler(Scheduler):
    """Beat's own scheduler, stamping a heartbeat on every tick so /healthz can tell beat is alive.

    A periodic task could not do this: it runs in the worker, so a dead worker would look like a dead beat.
    The schedule lives in memory, not in a shelve file: every entry is a short interval whose tasks are safe to
    run at any time, so nothing is lost on a restart, and beat has no file to fail on (Python 3.13's shelve is
    SQLite, which under load or beside a beat that is still shutting down answered "locking protocol" and ended
    beat, and with it dispatch and reconcile). Every entry is due at start, so a beat restarted more often than
    an entry's interval (the hourly housekeeping) still runs it.
    """

    def setup_schedule(self):
        super().setup_schedule()
        for entry in self.schedule.values():
            entry.last_run_at = entry.default_now() - timedelta(days=1)

    def tick(self, *args, **kwargs):
        try:
            health.stamp("beat")
        except Exception:  # the cache (Redis) is down or restarting: an exception here would end beat for good
            logger.warning("beat: could not stamp its heartbeat", exc_info=True)
        return min(super().tick(*args, **kwargs), health.BEAT_TICK_SECONDS)
