from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from projects import services
from projects.models import Invitation, Membership, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]

SIGNUP = {"username": "dana", "password1": "a long passphrase 9", "password2": "a long passphrase 9"}


@pytest.fixture
def invitation(alice, project):
    invitation, url = services.invite(project, "dana@example.org", Role.EDITOR, alice)
    invitation.path = url.removeprefix(settings.SITE_URL)
    return invitation


@pytest.fixture
def open_invitation(alice, project):
    """One that any signed-in account may use: bob and charlie join through it (test_invitation_binding has the
    invitations bound to their address)."""
    invitation, url = services.invite(project, "dana@example.org", Role.EDITOR, alice, anyone_with_link=True)
    invitation.path = url.removeprefix(settings.SITE_URL)
    return invitation


def test_a_visitor_sees_who_invited_them_and_a_signup_form(client, invitation):
    response = client.get(invitation.path)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Join Trailer" in body and "alice invited dana@example.org" in body
    assert 'name="password1"' in body
    assert f"/accounts/login/?next={invitation.path}" in body


def test_a_visitor_creates_an_account_and_joins(client, invitation, project):
    response = client.post(invitation.path, SIGNUP)
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    dana = get_user_model().objects.get(username="dana")
    assert dana.email == "dana@example.org" and dana.check_password("a long passphrase 9")
    assert Membership.objects.get(project=project, user=dana).role == Role.EDITOR
    invitation.refresh_from_db()
    assert (invitation.state, invitation.accepted_by) == ("accepted", dana)
    assert client.get(f"/projects/{project.pk}/members/").status_code == 200  # signed in


def test_a_weak_password_is_refused_and_nothing_is_created(client, invitation):
    response = client.post(invitation.path, {"username": "dana", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert b"This password is too short" in response.content
    assert b'value="dana"' in response.content
    assert not get_user_model().objects.filter(username="dana").exists()
    invitation.refresh_from_db()
    assert invitation.state == "pending"


def test_a_signed_in_user_joins(client, bob, open_invitation, project):
    client.force_login(bob)
    assert b"Join as bob" in client.get(open_invitation.path).content
    response = client.post(open_invitation.path)
    assert response["Location"] == f"/projects/{project.pk}/"
    assert Membership.objects.get(project=project, user=bob).role == Role.EDITOR


def test_a_used_invitation_cannot_be_reused(client, bob, charlie, open_invitation, project):
    client.force_login(bob)
    client.post(open_invitation.path)
    client.force_login(charlie)
    response = client.post(open_invitation.path)
    assert response.status_code == 410
    assert b"This invitation link is no longer valid" in response.content
    assert not Membership.objects.filter(project=project, user=charlie).exists()


@pytest.mark.parametrize("signed_in", [True, False])
def test_a_used_links_page_says_only_that_it_is_no_longer_valid(client, bob, open_invitation, signed_in):
    client.force_login(bob)
    client.post(open_invitation.path)
    client.logout()
    if signed_in:
        client.force_login(bob)
    for response in (client.get(open_invitation.path), client.post(open_invitation.path, SIGNUP)):
        assert response.status_code == 410
        body = response.content.decode()
        assert "This invitation link is no longer valid" in body
        for secret in ("Trailer", "Spring launch", "alice", "dana", "example.org", "already used", "Editor"):
            assert secret not in body


def test_an_expired_invitation_is_refused(client, bob, open_invitation, project):
    Invitation.objects.filter(pk=open_invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(bob)
    response = client.post(open_invitation.path)
    assert response.status_code == 410
    assert b"This invitation link is no longer valid" in response.content
    assert not Membership.objects.filter(project=project, user=bob).exists()


def test_an_invitation_to_an_archived_project_waits(client, bob, open_invitation, project):
    services.archive_project(project)
    client.force_login(bob)
    response = client.post(open_invitation.path)
    assert response.status_code == 409
    assert not Membership.objects.filter(project=project, user=bob).exists()
    open_invitation.refresh_from_db()
    assert open_invitation.state == "pending"


def test_joining_never_lowers_an_existing_role(client, bob, open_invitation, project, add_member):
    add_member(project, bob, Role.OWNER)
    client.force_login(bob)
    assert client.post(open_invitation.path).status_code == 302
    assert Membership.objects.get(project=project, user=bob).role == Role.OWNER


def test_an_unknown_token_is_404(client):
    assert client.get("/invitations/not-a-real-token/").status_code == 404
