"""Staff fixtures: the staff member (sam) signed in, the key form, tasks run eagerly, a key on a new-api relay."""

import pytest

from tests.fixtures.sorasim import API_KEY, make_sim_key
from tests.fixtures.world import WEBHOOK_SECRET


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def key_form(**overrides):
    data = {"name": "Apifree", "provider": "apifree", "base_url": "https://api.example.com/v1",
            "secret": "sk-keyform-secret-9f8e", "webhook_secret": WEBHOOK_SECRET, "rpm_limit": 25,
            "max_concurrent": 10, "can_remix_endpoint": "on", "has_webhooks": "on",
            "has_list_endpoint": "on"}
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


@pytest.fixture
def eager_tasks():
    """Enqueued tasks run at once, in the test's process (for tests of what a task does, not of the worker)."""
    from soraweb.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def relay(sim):
    """A key on a new-api relay (the shared sorasim speaking its dialect): no list endpoint, no webhooks."""
    key = make_sim_key(sim, name="relay", provider="new-api", preset="newapi", has_list_endpoint=False)
    sim.control.set_key(API_KEY, dialect="newapi")
    return key
