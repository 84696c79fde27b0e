"""An invitation is for the address it was sent to: only an account with that email joins through it, unless the
owner chose "anyone with the link" for it."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from projects import services
from projects.models import Invitation, Membership, Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]

SIGNUP = {"username": "dana", "password1": "a long passphrase 9", "password2": "a long passphrase 9"}


def _invite(project, alice, email="dana@example.org", **options):
    invitation, url = services.invite(project, email, Role.EDITOR, alice, **options)
    invitation.path = url.removeprefix(settings.SITE_URL)
    return invitation


def test_another_account_is_refused_and_the_invitation_stays_usable(client, alice, bob, project):
    invitation = _invite(project, alice)
    client.force_login(bob)
    for response in (client.get(invitation.path), client.post(invitation.path)):
        assert response.status_code == 403
        body = response.content.decode()
        assert "sent to another address" in body and "d•••@example.org" in body
        assert "dana@example.org" not in body and "Trailer" not in body
        # a sign-out button that comes back to the link, to sign in with the invited address
        assert f'name="next" value="{invitation.path}"' in body
    assert not Membership.objects.filter(project=project, user=bob).exists()
    invitation.refresh_from_db()
    assert invitation.state == "pending"


def test_the_service_refuses_another_account_too(alice, bob, project):
    invitation = _invite(project, alice)
    with pytest.raises(services.InvitationForAnotherAddress):
        services.accept_invitation(invitation, bob)
    assert Invitation.objects.get().state == "pending"


def test_the_invited_addresss_account_joins_whatever_the_case(client, alice, project, django_user_model):
    dana = django_user_model.objects.create_user("dana", " Dana@Example.ORG", "password")
    invitation = _invite(project, alice, email="dana@EXAMPLE.org")
    client.force_login(dana)
    assert client.get(invitation.path).status_code == 200
    response = client.post(invitation.path)
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    assert Membership.objects.get(project=project, user=dana).role == Role.EDITOR


def test_an_account_without_an_email_is_refused(client, alice, project, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", "", "password")
    invitation = _invite(project, alice)
    client.force_login(nobody)
    assert client.post(invitation.path).status_code == 403
    assert not Membership.objects.filter(project=project, user=nobody).exists()


def test_anyone_with_the_link_may_join_with_any_account(client, alice, bob, project):
    invitation = _invite(project, alice, anyone_with_link=True)
    client.force_login(bob)
    assert b"Join as bob" in client.get(invitation.path).content
    response = client.post(invitation.path)
    assert response["Location"] == f"/projects/{project.pk}/"
    assert Membership.objects.get(project=project, user=bob).role == Role.EDITOR


def test_signing_up_through_a_bound_invitation_takes_the_invited_address(client, alice, project):
    invitation = _invite(project, alice)
    body = client.get(invitation.path).content.decode()
    assert 'value="dana@example.org" readonly' in body
    # an email posted alongside is ignored: the account gets the invited address
    client.post(invitation.path, {**SIGNUP, "email": "mallory@example.org"})
    assert get_user_model().objects.get(username="dana").email == "dana@example.org"


def test_signing_up_through_an_open_invitation_asks_for_the_address(client, alice, project):
    invitation = _invite(project, alice, anyone_with_link=True)
    body = client.get(invitation.path).content.decode()
    assert 'name="email"' in body and "readonly" not in body
    response = client.post(invitation.path, {**SIGNUP, "email": "erin@example.net"})
    assert response.status_code == 302
    erin = get_user_model().objects.get(username="dana")
    assert erin.email == "erin@example.net"
    assert Membership.objects.filter(project=project, user=erin).exists()


def test_the_invite_forms_checkbox_is_off_by_default_and_opens_the_link(client, alice, project):
    client.force_login(alice)
    page = client.get(f"/projects/{project.pk}/members/").content.decode()
    assert "Anyone with the link may join" in page
    checkbox = re.search(r'<input[^>]*name="anyone_with_link"[^>]*>', page)[0]
    assert 'type="checkbox"' in checkbox and "checked" not in checkbox
    url = f"/projects/{project.pk}/members/invite/"
    client.post(url, {"email": "dana@example.org", "role": "viewer"})
    client.post(url, {"email": "erin@example.org", "role": "viewer", "anyone_with_link": "on"})
    assert dict(Invitation.objects.values_list("email", "anyone_with_link")) == {
        "dana@example.org": False, "erin@example.org": True}


def test_the_invitations_list_shows_which_links_anyone_may_use(client, alice, project):
    _invite(project, alice, email="erin@example.org", anyone_with_link=True)
    _invite(project, alice)
    client.force_login(alice)
    page = client.get(f"/projects/{project.pk}/members/").content.decode()
    assert page.count("Anyone with the link") == 2  # the label on the form and the one open invitation's row
