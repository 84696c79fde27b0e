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
    assert b"This invitation link is no longer valid" in response.content


def test_the_page_of_a_revoked_link_names_no_project_and_nobody(client, alice, project):
    invitation, url = services.invite(project, "dana@example.org", Role.EDITOR, alice)
    services.revoke_invitation(invitation)
    response = client.get(url.removeprefix(settings.SITE_URL))
    assert response.status_code == 410
    body = response.content.decode()
    assert "no longer valid" in body
    for secret in ("Trailer", "Spring launch", "alice", "dana", "example.org", "withdrawn", "Editor"):
        assert secret not in body


def test_an_archived_project_refuses_a_revoke(client, alice, project):
    invitation, _ = services.invite(project, "dana@example.org", Role.EDITOR, alice)
    services.archive_project(project)
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 403
    assert b"archived and read-only" in response.content
    invitation.refresh_from_db()
    assert invitation.state == "pending"


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
