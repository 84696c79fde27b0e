import pytest

from projects.models import Membership, Project, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_it_shows_the_form(client, alice):
    client.force_login(alice)
    response = client.get("/projects/new/")
    assert response.status_code == 200
    assert b'<label for="id_name">Name</label>' in response.content


def test_it_creates_a_project_with_me_as_owner(client, alice):
    client.force_login(alice)
    response = client.post("/projects/new/", {"name": "  Launch  ", "description": "Spring"})
    project = Project.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    assert (project.name, project.description, project.created_by) == ("Launch", "Spring", alice)
    assert Membership.objects.get(project=project).user == alice
    assert Membership.objects.get(project=project).role == Role.OWNER


def test_it_refuses_a_blank_name_and_keeps_the_description(client, alice):
    client.force_login(alice)
    response = client.post("/projects/new/", {"name": "   ", "description": "Keep me"})
    assert response.status_code == 200
    assert not Project.objects.exists()
    assert b'class="errorlist' in response.content
    assert b"Keep me" in response.content
