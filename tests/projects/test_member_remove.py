import pytest

from projects.models import Membership, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_an_owner_removes_a_member(client, alice, bob, project, add_member):
    member = add_member(project, bob, Role.EDITOR)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/{member.pk}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_the_last_owner_cannot_be_removed(client, alice, project):
    mine = Membership.objects.get(project=project, user=alice)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/{mine.pk}/remove/", follow=True)
    assert b"A project needs at least one owner" in response.content
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_an_owner_can_remove_another_owner(client, alice, bob, project, add_member):
    other = add_member(project, bob, Role.OWNER)
    client.force_login(alice)
    client.post(f"/projects/{project.pk}/members/{other.pk}/remove/")
    assert not Membership.objects.filter(pk=other.pk).exists()


def test_a_viewer_cannot_remove(client, alice, bob, project, add_member):
    add_member(project, bob, Role.VIEWER)
    owner = Membership.objects.get(project=project, user=alice)
    client.force_login(bob)
    assert client.post(f"/projects/{project.pk}/members/{owner.pk}/remove/").status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()
