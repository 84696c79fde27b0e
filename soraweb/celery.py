import logging
import os

from celery import Celery
from celery.beat import PersistentScheduler

from soraweb import health

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soraweb.settings")

logger = logging.getLogger(__name__)

app = Celery("soraweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class HeartbeatScheduler(PersistentScheduler):
    """Beat's own scheduler, stamping a heartbeat on every tick so /healthz can tell beat is alive.

    A periodic task could not do this: it runs in the worker, so a dead worker would look like a dead beat.
    """

    def tick(self, *args, **kwargs):
        try:
            health.stamp("beat")
        except Exception:  # the cache (Redis) is down or restarting: an exception here would end beat for good
            logger.warning("beat: could not stamp its heartbeat", exc_info=True)
        return min(super().tick(*args, **kwargs), health.BEAT_TICK_SECONDS)
