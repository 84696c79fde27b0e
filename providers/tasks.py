"""Thin Celery tasks of the key administration (ids only; each body re-reads and claims, so a rerun is a no-op)."""

from celery import shared_task

from providers import detect, incidents, keyadmin


@shared_task
def test_key(test_id):
    keyadmin.run_test(test_id)


@shared_task
def detect_key(detection_id):
    detect.run(detection_id)


@shared_task
def sweep_key_incidents():
    return incidents.sweep()


@shared_task
def email_key_incident(incident_id):
    return incidents.send_email(incident_id)
