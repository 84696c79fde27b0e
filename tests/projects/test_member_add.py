import pytest

from projects import services
from projects.models import Membership, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_it_adds_an_existing_user_by_username(client, alice, bob, project):
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/add/", {"username": "BOB", "role": "viewer"})
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=bob).role == Role.VIEWER


def test_an_unknown_username_is_refused_inline(client, alice, project):
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/add/", {"username": "nobody", "role": "viewer"})
    assert response.status_code == 200
    assert "No user is called “nobody”".encode() in response.content
    assert b'value="nobody"' in response.content  # what was typed stays
    assert Membership.objects.filter(project=project).count() == 1


def test_adding_a_member_twice_is_refused(client, alice, bob, project, add_member):
    add_member(project, bob, Role.VIEWER)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/add/", {"username": "bob", "role": "owner"})
    assert b"bob is already a member." in response.content
    assert Membership.objects.get(project=project, user=bob).role == Role.VIEWER


def test_an_editor_cannot_add(client, bob, charlie, project, add_member):
    add_member(project, bob, Role.EDITOR)
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/members/add/", {"username": "charlie", "role": "owner"})
    assert response.status_code == 403
    assert not Membership.objects.filter(user=charlie).exists()


def test_no_one_is_added_to_an_archived_project(client, alice, bob, project):
    services.archive_project(project)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/add/", {"username": "bob", "role": "viewer"})
    assert response.status_code == 403
    assert not Membership.objects.filter(user=bob).exists()
