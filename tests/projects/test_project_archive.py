import pytest

from projects.models import Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_it_archives_the_project(client, alice, project):
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/archive/")
    assert response.status_code == 302 and response["Location"] == "/"
    project.refresh_from_db()
    assert project.archived_at is not None


def test_archiving_twice_keeps_the_first_date(client, alice, project):
    client.force_login(alice)
    client.post(f"/projects/{project.pk}/archive/")
    project.refresh_from_db()
    first = project.archived_at
    client.post(f"/projects/{project.pk}/archive/")
    project.refresh_from_db()
    assert project.archived_at == first


def test_an_editor_cannot_archive(client, bob, project, add_member):
    add_member(project, bob, Role.EDITOR)
    client.force_login(bob)
    assert client.post(f"/projects/{project.pk}/archive/").status_code == 403
    project.refresh_from_db()
    assert project.archived_at is None


def test_it_does_not_archive_on_get(client, alice, project):
    client.force_login(alice)
    assert client.get(f"/projects/{project.pk}/archive/").status_code == 405
    project.refresh_from_db()
    assert project.archived_at is None
