import pytest

from projects import services
from projects.models import Membership, Role


@pytest.fixture
def project(alice):
    """"Trailer", owned by alice."""
    return services.create_project(alice, "Trailer", "Spring launch")


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
