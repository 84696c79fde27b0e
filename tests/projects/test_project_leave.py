import pytest

from projects import services
from projects.models import Membership, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_a_member_leaves(client, bob, project, add_member):
    add_member(project, bob, Role.VIEWER)
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/leave/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert not Membership.objects.filter(project=project, user=bob).exists()


def test_the_last_owner_cannot_leave(client, alice, project):
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/leave/", follow=True)
    assert b"You are the last owner of this project" in response.content
    assert Membership.objects.get(project=project, user=alice).role == Role.OWNER


def test_an_owner_leaves_when_another_owner_remains(client, alice, bob, project, add_member):
    add_member(project, bob, Role.OWNER)
    client.force_login(alice)
    client.post(f"/projects/{project.pk}/leave/")
    assert list(Membership.objects.filter(project=project).values_list("user__username", flat=True)) == ["bob"]


def test_a_member_may_leave_an_archived_project(client, bob, project, add_member):
    add_member(project, bob, Role.EDITOR)
    services.archive_project(project)
    client.force_login(bob)
    client.post(f"/projects/{project.pk}/leave/")
    assert not Membership.objects.filter(project=project, user=bob).exists()


def test_an_outsider_gets_404(client, charlie, project):
    client.force_login(charlie)
    assert client.post(f"/projects/{project.pk}/leave/").status_code == 404
