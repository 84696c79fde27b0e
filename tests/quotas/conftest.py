"""Quota fixtures: a project shared by alice (owner) and bob (editor), and renders made straight in the ORM
(the pipeline's submit is exercised in test_concurrency.py; these tests are about the books)."""

from decimal import Decimal

import pytest
from django.db import transaction

from projects.models import Membership, Project, Role
from quotas import services
from quotas.models import UserAllowance


@pytest.fixture(autouse=True)
def _quota_defaults(settings):
    # known allowances whatever the environment says
    settings.QUOTA_DEFAULT_MONTHLY_SECONDS = 300
    settings.QUOTA_DEFAULT_MONTHLY_SPEND_USD = Decimal("50.00")
    settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = 3
    settings.QUOTA_DEFAULT_PROJECT_BUDGET_USD = None


@pytest.fixture
def project(alice, bob):
    project = Project.objects.create(name="Launch film", created_by=alice)
    Membership.objects.create(project=project, user=alice, role=Role.OWNER)
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    return project


@pytest.fixture
def make_render(project):
    from renders.models import Render

    def make(author, *, model="sora-2", size="1280x720", seconds=4, in_project=None):
        return Render.objects.create(project=in_project or project, author=author, prompt="A lighthouse at dusk",
                                     model=model, size=size, seconds=seconds)

    return make


@pytest.fixture
def submit(make_render):
    """Create a render and reserve its quota in one transaction, as the submit service does."""

    def submit(author, **kwargs):
        with transaction.atomic():
            render = make_render(author, **kwargs)
            services.reserve(render)
        return render

    return submit


@pytest.fixture
def allowance():
    def set_allowance(user, **fields):
        row, _ = UserAllowance.objects.update_or_create(user=user, defaults=fields)
        return row

    return set_allowance
