import pytest

from projects import services
from projects.models import Role

pytestmark = [pytest.mark.django_db, pytest.mark.project(description="Spring launch", members={})]


def test_an_owner_sees_members_forms_and_invitations(client, alice, bob, project, add_member):
    add_member(project, bob, Role.EDITOR)
    services.invite(project, "dana@example.org", Role.VIEWER, alice)
    client.force_login(alice)
    response = client.get(f"/projects/{project.pk}/members/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "bob@example.org" in body and "dana@example.org" in body
    assert "Send invitation" in body and "Add member" in body
    assert f"/projects/{project.pk}/members/" in body


def test_a_viewer_sees_the_people_but_no_management(client, alice, bob, project, add_member):
    add_member(project, bob, Role.VIEWER)
    services.invite(project, "dana@example.org", Role.VIEWER, alice)
    client.force_login(bob)
    response = client.get(f"/projects/{project.pk}/members/")
    body = response.content.decode()
    assert "alice@example.org" in body
    assert "dana@example.org" not in body  # pending invitations are the owners' business
    assert "Send invitation" not in body and "/remove/" not in body and "/role/" not in body
    assert f"/projects/{project.pk}/leave/" in body


def test_the_forms_have_distinct_ids_and_labels(client, alice, project):
    client.force_login(alice)
    body = client.get(f"/projects/{project.pk}/members/").content.decode()
    assert 'for="invite_role"' in body and 'for="add_role"' in body
    assert body.count('id="invite_role"') == 1 and body.count('id="add_role"') == 1


def test_an_outsider_gets_404(client, charlie, project):
    client.force_login(charlie)
    assert client.get(f"/projects/{project.pk}/members/").status_code == 404


def test_the_only_owner_is_not_offered_leave_and_is_told_why(client, alice, bob, project, add_member):
    add_member(project, bob, Role.EDITOR)
    client.force_login(alice)
    body = client.get(f"/projects/{project.pk}/members/").content.decode()
    assert f"/projects/{project.pk}/leave/" not in body
    assert "The only owner can’t leave: make someone else an owner first." in body


def test_an_owner_beside_another_owner_may_leave(client, alice, bob, project, add_member):
    add_member(project, bob, Role.OWNER)
    client.force_login(alice)
    body = client.get(f"/projects/{project.pk}/members/").content.decode()
    assert f"/projects/{project.pk}/leave/" in body and "The only owner" not in body


def test_a_new_invitation_link_is_shown_once_with_a_copy_button(client, alice, project, settings):
    settings.SITE_URL = "https://studio.example.com"
    client.force_login(alice)
    response = client.post(f"/projects/{project.pk}/members/invite/", {"email": "dana@example.org", "role": "editor"},
                           follow=True)
    body = response.content.decode()
    link = response.context["invitation_link"]["url"]
    assert link.startswith("https://studio.example.com/invitations/")
    assert f'id="invitation-url" type="text" value="{link}" readonly' in body
    assert 'data-copy="invitation-url"' in body
    assert link not in client.get(f"/projects/{project.pk}/members/").content.decode()  # once: only its digest is kept


def test_a_fresh_invitation_says_just_now_not_0_minutes(client, alice, project):
    services.invite(project, "dana@example.org", Role.VIEWER, alice)
    client.force_login(alice)
    body = client.get(f"/projects/{project.pk}/members/").content.decode()
    assert "invited by alice, just now" in body and "0\xa0minutes" not in body
