"""Thin Celery tasks taking ids only (JSON). Each re-reads and claims its render, so a rerun, a duplicate
message or a late one is a no-op; acks_late (settings) with these idempotent bodies. Waits are never
countdowns: a step that must wait sets next_attempt_at and the dispatcher sends the next task.

The render steps also take `due`, the render's next_attempt_at when the message was sent (an ISO timestamp):
only a message whose `due` the render still has may claim it (renders.pipeline.claim)."""

from celery import shared_task

from renders import pipeline, reconcile


@shared_task
def create_render(render_id, due=None):
    pipeline.send_create(render_id, due)


@shared_task
def poll_render(render_id, due=None):
    pipeline.poll(render_id, due)


@shared_task
def download_render(render_id, due=None):
    pipeline.download(render_id, due)


@shared_task
def apply_webhook(delivery_id):
    pipeline.apply_webhook(delivery_id)


@shared_task
def remove_render_files(render_id):
    pipeline.remove_files(render_id)


@shared_task
def dispatch_due_renders():
    return pipeline.dispatch_due()


@shared_task
def reconcile_renders():
    return reconcile.reconcile()


@shared_task
def reap_quiet_renders():
    return reconcile.reap_quiet()
