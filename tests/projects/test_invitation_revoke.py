import pytest
from django.conf import settings

from projects import services
from projects.models import Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_an_owner_revokes_an_invitation(client, alice, project):
    invitation, url = services.invite(project, "dana@example.org", Role.EDITOR, alice)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.state == "revoked"
    response = client.get(url.removeprefix(settings.SITE_URL))
    assert response.status_code == 410
    assert b"This invitation was withdrawn." in response.content


def test_an_invitation_of_another_project_is_404(client, alice, charlie, project):
    elsewhere = services.create_project(charlie, "Elsewhere")
    invitation, _ = services.invite(elsewhere, "dana@example.org", Role.EDITOR, charlie)
    client.force_login(alice)
    assert client.post(f"/projects/{project.pk}/invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.state == "pending"


def test_an_editor_cannot_revoke(client, alice, bob, project, add_member):
    add_member(project, bob, Role.EDITOR)
    invitation, _ = services.invite(project, "dana@example.org", Role.EDITOR, alice)
    client.force_login(bob)
    assert client.post(f"/projects/{project.pk}/invitations/{invitation.pk}/revoke/").status_code == 403
    invitation.refresh_from_db()
    assert invitation.state == "pending"
