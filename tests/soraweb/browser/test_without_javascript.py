"""Every link and form works without JavaScript: sign in, create a project, invite, add and remove people."""

import pytest

from projects.models import Invitation, Membership, Project, Role
from tests.fixtures.browser import login_with_form

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_team_is_set_up_with_javascript_off(context_factory, alice, bob):
    page = context_factory(java_script_enabled=False).new_page()
    login_with_form(page, "alice", "password")
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name", exact=True).fill("Trailer")
    page.get_by_role("button", name="Create project").click()
    project = Project.objects.get(name="Trailer")
    assert page.url.endswith(f"/projects/{project.pk}/")

    page.goto(f"/projects/{project.pk}/members/")
    page.get_by_label("Email", exact=True).fill("dana@example.org")
    page.get_by_role("button", name="Send invitation").click()
    assert page.get_by_text("Invitation sent to dana@example.org").is_visible()
    assert Invitation.objects.get().email == "dana@example.org"

    page.get_by_label("Username", exact=True).fill("bob")
    page.locator("#add_role").select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    assert Membership.objects.get(project=project, user=bob).role == Role.VIEWER

    page.get_by_label("Role of bob").select_option("editor")
    page.get_by_role("button", name="Change role of bob").click()
    assert Membership.objects.get(project=project, user=bob).role == Role.EDITOR

    page.get_by_role("button", name="Remove bob").click()  # no confirm() without JavaScript
    assert not Membership.objects.filter(project=project, user=bob).exists()
