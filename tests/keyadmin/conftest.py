"""Key administration fixtures: a staff member (sam, from tests/conftest.py) signed in, a project, keys."""

import pytest
from django.utils import timezone

from projects.models import Membership, Project, Role
from providers.models import ApiKey
from renders.models import Render
from renders.states import Status

WEBHOOK_SECRET = "whsec_a2V5YWRtaW4tdGVzdC13ZWJob29rLXNlY3JldA=="


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def project(alice, bob):
    project = Project.objects.create(name="Trailer", created_by=alice)
    Membership.objects.create(project=project, user=alice, role=Role.OWNER)
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    return project


@pytest.fixture
def make_key(db):
    def make(name="main", *, secret="sk-keyadmin-0001", base_url="http://127.0.0.1:9/v1", **fields):
        key = ApiKey(name=name, base_url=base_url, **fields)
        key.secret = secret
        key.webhook_secret = WEBHOOK_SECRET
        key.save()
        return key
    return make


@pytest.fixture
def key(make_key):
    return make_key()


@pytest.fixture
def make_render(project, alice):
    """A render row in any status, made in the ORM (these tests are about keys, not about submitting)."""
    def make(status=Status.WAITING, **fields):
        now = timezone.now()
        values = {"project": project, "author": alice, "prompt": "a red fox in snow", "model": "sora-2",
                  "size": "720x1280", "seconds": 4, "status": status, "created_at": now, "updated_at": now}
        values.update(fields)
        return Render.objects.create(**values)
    return make


def key_form(**overrides):
    data = {"name": "Apifree", "provider": "apifree", "base_url": "https://api.example.com/v1",
            "secret": "sk-keyform-secret-9f8e", "webhook_secret": WEBHOOK_SECRET, "rpm_limit": 25,
            "max_concurrent": 10, "can_remix_endpoint": "on", "has_webhooks": "on"}
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


def wait_for(check, timeout=60, every=0.25, what="the condition", worker=None):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    log = ("\n" + worker.log()[-4000:]) if worker else ""
    raise AssertionError(f"timed out waiting for {what}{log}")


def wait_status(render, statuses, timeout=60, worker=None):
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)

    def check():
        render.refresh_from_db()
        return render.status in statuses

    try:
        wait_for(check, timeout, what=f"render {render.pk} to reach {statuses}")
    except AssertionError:
        events = "\n".join(f"  {e.kind} {e.status_from}->{e.status_to} {e.message}" for e in render.events.all())
        log = worker.log()[-4000:] if worker else ""
        raise AssertionError(f"render {render.pk} is {render.status}\n{events}\n{log}") from None
    return render


def submit(user, project, prompt="a lighthouse keeper rotating the lamp", **kw):
    from renders import services

    values = {"model": "sora-2", "size": "720x1280", "seconds": 4}
    values.update(kw)
    return services.submit(user, project, prompt=prompt, **values)
