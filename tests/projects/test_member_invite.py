import pytest
from django.core import mail

from projects.models import Invitation, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_it_emails_a_link_built_from_site_url(client, alice, project, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://studio.example.com"
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/projects/{project.pk}/members/invite/", {"email": "dana@example.org",
                                                                            "role": "editor"}, follow=True)
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == ("dana@example.org", Role.EDITOR, alice)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dana@example.org"]
    link = next(w for w in mail.outbox[0].body.split() if w.startswith("https://studio.example.com/invitations/"))
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert Invitation.objects.by_token(token).get() == invitation
    assert token not in str(Invitation.objects.values_list().get())  # only its digest is stored
    assert link.encode() in response.content  # shown once to the owner too


def test_it_expires_after_the_configured_days(client, alice, project, settings):
    settings.INVITATION_EXPIRY_DAYS = 2
    client.force_login(alice)
    client.post(f"/projects/{project.pk}/members/invite/", {"email": "dana@example.org", "role": "viewer"})
    invitation = Invitation.objects.get()
    assert round((invitation.expires_at - invitation.created_at).total_seconds() / 3600) == 48


def test_inviting_the_same_address_again_replaces_the_link(client, alice, project):
    client.force_login(alice)
    for _ in range(2):
        client.post(f"/projects/{project.pk}/members/invite/", {"email": "dana@example.org", "role": "viewer"})
    first, second = Invitation.objects.order_by("created_at")
    assert first.state == "revoked" and second.state == "pending"


def test_a_bad_address_is_refused_inline(client, alice, project):
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/invite/", {"email": "not-an-email", "role": "viewer"})
    assert response.status_code == 200
    assert b"Enter a valid email address." in response.content
    assert b'value="not-an-email"' in response.content
    assert not Invitation.objects.exists() and not mail.outbox


def test_a_member_is_not_invited(client, alice, bob, project, add_member):
    add_member(project, bob)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/invite/", {"email": "BOB@example.org", "role": "viewer"})
    assert b"already belongs to a member" in response.content
    assert not Invitation.objects.exists()


def test_an_editor_cannot_invite(client, bob, project, add_member):
    add_member(project, bob, Role.EDITOR)
    client.force_login(bob)
    response = client.post(f"/projects/{project.pk}/members/invite/", {"email": "x@example.org", "role": "owner"})
    assert response.status_code == 403
    assert not Invitation.objects.exists()
