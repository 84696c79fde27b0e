import pytest

from projects import services
from projects.models import Membership, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_an_owner_changes_a_role(client, alice, bob, project, add_member):
    member = add_member(project, bob, Role.VIEWER)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/{member.pk}/role/", {"role": "owner"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == Role.OWNER


def test_the_last_owner_cannot_step_down(client, alice, project):
    mine = Membership.objects.get(project=project, user=alice)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/{mine.pk}/role/", {"role": "editor"}, follow=True)
    assert b"A project needs at least one owner" in response.content
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_an_owner_steps_down_when_another_owner_remains(client, alice, bob, project, add_member):
    add_member(project, bob, Role.OWNER)
    mine = Membership.objects.get(project=project, user=alice)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/{mine.pk}/role/", {"role": "viewer"})
    assert response["Location"] == f"/projects/{project.pk}/"
    mine.refresh_from_db()
    assert mine.role == Role.VIEWER


def test_an_unknown_role_changes_nothing(client, alice, bob, project, add_member):
    member = add_member(project, bob, Role.VIEWER)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/{member.pk}/role/", {"role": "admin"}, follow=True)
    assert b"Choose a role" in response.content
    member.refresh_from_db()
    assert member.role == Role.VIEWER


def test_a_membership_of_another_project_is_404(client, alice, charlie, project):
    elsewhere = services.create_project(charlie, "Elsewhere")
    theirs = Membership.objects.get(project=elsewhere)
    client.force_login(alice)
    assert client.post(f"/projects/{project.pk}/members/{theirs.pk}/role/", {"role": "viewer"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == Role.OWNER


def test_an_editor_gets_403(client, alice, bob, project, add_member):
    add_member(project, bob, Role.EDITOR)
    owner = Membership.objects.get(project=project, user=alice)
    client.force_login(bob)
    assert client.post(f"/projects/{project.pk}/members/{owner.pk}/role/", {"role": "viewer"}).status_code == 403
    owner.refresh_from_db()
    assert owner.role == Role.OWNER
