"""The members page in headless Chromium: the link of an invitation just made is copied to the clipboard by its
button (a static script under the CSP, no inline code), with no console error or CSP violation; the page of a
withdrawn link and the refusal of a link bound to another address, on a desktop and a phone; the invite form's
"anyone with the link" checkbox."""

import pytest
from playwright.sync_api import expect

from projects import services
from projects.models import Invitation, Role
from tests.fixtures.browser import Problems, overflow, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.project(description="Spring launch", members={})]

def test_the_invitation_link_is_copied_by_its_button(context_factory, alice, project):
    context = context_factory(alice, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    problems = Problems(page)
    page.goto(f"/projects/{project.pk}/members/")
    page.get_by_role("textbox", name="Email").fill("dana@example.org")
    page.get_by_role("button", name="Send invitation").click()

    field = page.get_by_role("textbox", name="Invitation link")
    link = field.input_value()
    assert Invitation.objects.get(email="dana@example.org").state == "pending"
    assert "/invitations/" in link
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status").filter(has_text="Copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link
    # the only owner is told why there is no Leave
    expect(page.get_by_text("The only owner can’t leave")).to_be_visible()
    assert page.get_by_role("button", name="Leave").count() == 0
    # the long link stays inside a phone's width
    page.set_viewport_size({"width": 390, "height": 844})
    assert overflow(page) <= 0
    assert problems.all() == []


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}])
def test_a_withdrawn_links_page_is_clean_and_names_nobody(context_factory, alice, project, viewport):
    invitation, url = services.invite(project, "dana@example.org", Role.EDITOR, alice)
    services.revoke_invitation(invitation)
    page = context_factory(viewport=viewport).new_page()
    problems = Problems(page)
    response = page.goto("/invitations/" + url.rstrip("/").rsplit("/", 1)[1] + "/")
    assert response.status == 410
    expect(page.get_by_role("heading", name="This invitation link is no longer valid")).to_be_visible()
    text = page.locator("body").inner_text()
    assert "Trailer" not in text and "alice" not in text and "dana" not in text
    screenshot(page, f"invitation-gone-{viewport['width']}x{viewport['height']}")
    assert overflow(page) <= 0
    # Chromium notes the document's own 410 in the console; that is the answer expected, not a fault of the page
    gone = "console: Failed to load resource: the server responded with a status of 410 (Gone)"
    assert [p for p in problems.all() if p != gone] == []


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}])
def test_a_link_for_another_address_is_refused_cleanly(context_factory, alice, bob, project, viewport):
    _, url = services.invite(project, "dana.with.a.rather.long.address@example.org", Role.EDITOR, alice)
    page = context_factory(bob, viewport=viewport).new_page()
    problems = Problems(page)
    path = "/invitations/" + url.rstrip("/").rsplit("/", 1)[1] + "/"
    response = page.goto(path)
    assert response.status == 403
    expect(page.get_by_role("heading", name="This invitation was sent to another address")).to_be_visible()
    text = page.locator("main").inner_text()
    assert "d•••@example.org" in text and "Trailer" not in text and "dana.with" not in text
    screenshot(page, f"invitation-for-another-address-{viewport['width']}x{viewport['height']}")
    assert overflow(page) <= 0
    # Chromium notes the document's own 403 in the console: the answer expected, not a fault of the page
    refused = "console: Failed to load resource: the server responded with a status of 403 (Forbidden)"
    assert [p for p in problems.all() if p != refused] == []
    # signing out comes back to the link, ready to sign in with the invited address
    page.get_by_role("button", name="Sign out").last.click()
    expect(page.get_by_role("textbox", name="Email")).to_have_value("dana.with.a.rather.long.address@example.org")
    assert page.url.endswith(path)


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}])
def test_the_invite_form_opens_a_link_to_anyone_when_ticked(context_factory, alice, project, viewport):
    page = context_factory(alice, viewport=viewport).new_page()
    problems = Problems(page)
    page.goto(f"/projects/{project.pk}/members/")
    checkbox = page.get_by_role("checkbox", name="Anyone with the link may join")
    expect(checkbox).not_to_be_checked()
    page.get_by_role("textbox", name="Email").fill("erin@example.org")
    checkbox.check()
    page.get_by_role("button", name="Send invitation").click()
    assert Invitation.objects.get(email="erin@example.org").anyone_with_link
    expect(page.get_by_role("cell", name="erin@example.org").get_by_text("Anyone with the link")).to_be_visible()
    screenshot(page, f"invite-form-{viewport['width']}x{viewport['height']}")
    assert overflow(page) <= 0
    assert problems.all() == []
