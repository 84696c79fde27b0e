import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects import services
from projects.access import ArchivedProject, get_in_project, get_membership, get_project
from projects.models import Invitation, Membership, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_it_hides_projects_from_outsiders_and_visitors(charlie, project):
    for user in (charlie, AnonymousUser()):
        with pytest.raises(Http404):
            get_membership(user, project.pk)


def test_it_refuses_members_below_the_role(bob, project, add_member):
    add_member(project, bob, Role.VIEWER)
    assert get_project(bob, project.pk) == project
    with pytest.raises(PermissionDenied, match="needs the editor role in Trailer"):
        get_membership(bob, project.pk, Role.EDITOR)


def test_write_refuses_archived_projects(alice, project):
    services.archive_project(project)
    assert get_membership(alice, project.pk, Role.OWNER).project.is_archived
    with pytest.raises(ArchivedProject):
        get_membership(alice, project.pk, Role.OWNER, write=True)


def test_get_in_project_finds_only_the_projects_objects(alice, charlie, project):
    elsewhere = services.create_project(charlie, "Elsewhere")
    membership = get_membership(alice, project.pk)
    theirs = Membership.objects.get(project=elsewhere)
    assert get_in_project(membership, Membership, pk=membership.pk) == membership
    with pytest.raises(Http404):
        get_in_project(membership, Membership, pk=theirs.pk)
    with pytest.raises(Http404):
        get_in_project(membership, Invitation.objects.all(), pk=12345)


def test_can_change_follows_the_roles(alice, bob, charlie, project, add_member):
    editor = add_member(project, bob, Role.EDITOR)
    viewer = add_member(project, charlie, Role.VIEWER)
    owner = Membership.objects.get(project=project, user=alice)
    assert editor.can_change(bob.pk) and not editor.can_change(alice.pk) and not editor.can_change(None)
    assert owner.can_change(bob.pk) and owner.can_change(None)
    assert not viewer.can_change(charlie.pk)
