import pytest

from projects import services
from projects.models import Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_it_shows_the_settings_to_an_owner(client, alice, project):
    client.force_login(alice)
    response = client.get(f"/projects/{project.pk}/settings/")
    assert response.status_code == 200
    assert b"Archive project" in response.content


def test_it_renames_the_project(client, alice, project):
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/settings/", {"name": "Renamed", "description": "New words"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.description) == ("Renamed", "New words")


def test_it_keeps_what_was_typed_on_an_error(client, alice, project):
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/settings/", {"name": "", "description": "Half written"})
    assert response.status_code == 200
    assert b"Half written" in response.content
    project.refresh_from_db()
    assert project.name == "Trailer"


def test_it_gives_an_editor_a_readable_403(client, bob, project, add_member):
    add_member(project, bob, Role.EDITOR)
    client.force_login(bob)
    response = client.get(f"/projects/{project.pk}/settings/")
    assert response.status_code == 403
    assert b"This needs the owner role in Trailer." in response.content
    assert b"Back to your projects" in response.content


def test_it_hides_the_project_from_outsiders(client, charlie, project):
    client.force_login(charlie)
    assert client.get(f"/projects/{project.pk}/settings/").status_code == 404


def test_an_archived_project_cannot_be_renamed(client, alice, project):
    services.archive_project(project)
    client.force_login(alice)
    assert client.get(f"/projects/{project.pk}/settings/").status_code == 200
    response = client.post(f"/projects/{project.pk}/settings/", {"name": "Sneaky", "description": ""})
    assert response.status_code == 403
    assert b"archived" in response.content
    project.refresh_from_db()
    assert project.name == "Trailer"
