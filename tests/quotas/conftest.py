"""Quota fixtures: renders made straight in the ORM with their quota reserved (the pipeline's submit is exercised
in test_concurrency.py; these tests are about the books). Their project is "Launch film" (alice owner, bob editor)."""

import pytest
from django.db import transaction

from quotas import services
from quotas.models import UserAllowance


@pytest.fixture(autouse=True)
def _quotas(quota_defaults):
    """The known allowances of tests/fixtures/world.py."""


@pytest.fixture
def reserve_render(make_render):
    """A render of `author`'s (1280x720, 4 s unless told; in `project` unless in_project) with its quota reserved
    in one transaction, as the submit service does."""

    def reserve(author, *, in_project=None, **fields):
        values = {"author": author, "prompt": "A lighthouse at dusk", "size": "1280x720", **fields}
        if in_project is not None:
            values["project"] = in_project
        with transaction.atomic():
            render = make_render(**values)
            services.reserve(render)
        return render

    return reserve


@pytest.fixture
def allowance():
    def set_allowance(user, **fields):
        row, _ = UserAllowance.objects.update_or_create(user=user, defaults=fields)
        return row

    return set_allowance
