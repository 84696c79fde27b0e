import pytest

from projects import services
from projects.models import Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_it_restores_an_archived_project(client, alice, project):
    services.archive_project(project)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/restore/")
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    project.refresh_from_db()
    assert project.archived_at is None


def test_a_viewer_cannot_restore(client, bob, project, add_member):
    services.archive_project(project)
    add_member(project, bob, Role.VIEWER)
    client.force_login(bob)
    assert client.post(f"/projects/{project.pk}/restore/").status_code == 403
    project.refresh_from_db()
    assert project.archived_at is not None
