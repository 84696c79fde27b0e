"""Fixtures of the render pipeline's tests: a project (alice owner, bob editor), a provider key, renders."""

import pytest
from django.utils import timezone

from projects.models import Membership, Project, Role
from providers.models import ApiKey
from renders.models import Render
from renders.states import Status


@pytest.fixture
def project(alice, bob):
    project = Project.objects.create(name="Trailer", created_by=alice)
    Membership.objects.create(project=project, user=alice, role=Role.OWNER)
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    return project


@pytest.fixture
def key(db):
    key = ApiKey(name="main", base_url="http://127.0.0.1:9/v1", has_webhooks=True)
    key.secret = "sk-test-unit-0001"
    key.webhook_secret = "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="
    key.save()
    return key


@pytest.fixture
def make_render(project, alice):
    """An unsaved-by-submit render in any status (no quota reservation; for state and view tests)."""

    def make(status=Status.SUBMITTING, **fields):
        now = timezone.now()
        values = {"project": project, "author": alice, "prompt": "a red fox in snow", "model": "sora-2",
                  "size": "720x1280", "seconds": 4, "status": status, "created_at": now, "updated_at": now}
        values.update(fields)
        return Render.objects.create(**values)

    return make


@pytest.fixture
def sim_key(sorasim_shared):
    """A key of the default pool pointed at the shared sorasim (polling only; no limits of our own)."""
    from tests.fixtures.sorasim import API_KEY, WEBHOOK_SECRET

    key = ApiKey(name="sorasim", base_url=sorasim_shared.api_url, has_webhooks=False, rpm_limit=0, max_concurrent=0,
                 can_remix_endpoint=True, can_remix_by_create=True)
    key.secret = API_KEY
    key.webhook_secret = WEBHOOK_SECRET
    key.save()
    key.sim = sorasim_shared
    return key
