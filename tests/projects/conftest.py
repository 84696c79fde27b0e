"""Projects fixtures: adding a member, signing in as a user. The projects tests' `project` (tests/fixtures/world.py)
is "Trailer", "Spring launch", alice alone: each module marks it so."""

import pytest

from projects.models import Membership, Role


@pytest.fixture
def add_member():
    def add(project, user, role=Role.EDITOR):
        return Membership.objects.create(project=project, user=user, role=role)
    return add


@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client
    return sign_in
