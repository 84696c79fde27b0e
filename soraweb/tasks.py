from celery import shared_task

from soraweb import health


@shared_task
def heartbeat():
    health.stamp("worker")
