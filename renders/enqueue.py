"""The one place that sends renders' Celery tasks, by name (ids only), so that no module of the pipeline imports
renders.tasks (which imports the pipeline).

The name is looked up in the Celery app's registry (RendersConfig.ready imports renders.tasks in every process),
not sent with send_task: a registered task honours eager mode in tests and the tests' patches of its `delay`.
"""

from celery import current_app
from django.db import transaction

TASKS_MODULE = "renders.tasks"


def task(name):
    """The registered task `name` of renders.tasks, e.g. task("create_render")."""
    return current_app.tasks[f"{TASKS_MODULE}.{name}"]


def send(name, *args):
    """Send the task now. Raises when the broker refuses it: the caller decides what a lost send means."""
    return task(name).delay(*args)


def on_commit(name, *args):
    """Send the task once the current transaction commits: a rolled back change sends nothing.

    Robust: with the broker down (Redis restarting) the change stands and the error is logged; the render's
    next_attempt_at (or, for a webhook, the polling safety net) brings the work back, so a submit never fails
    for a broker hiccup."""
    registered = task(name)
    transaction.on_commit(lambda: registered.delay(*args), robust=True)
