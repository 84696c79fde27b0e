"""A refused write in headless Chromium: past the submit limit, the studio's form (htmx) shows the 429's message
where its errors show and keeps the prompt; without JavaScript the answer is a small page. Both stay clean on a
desktop and a phone (no console error but Chromium's note of the 429 itself, no CSP violation, no horizontal
scrolling)."""

import pytest
from playwright.sync_api import expect

from renders.models import Render
from soraweb import ratelimits
from tests.fixtures.browser import Problems, overflow, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
# the refusal is answered 429 on purpose (Chromium logs that status): that one and nothing else
REFUSED = "console: Failed to load resource: the server responded with a status of 429 (Too Many Requests)"


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_studio_form_shows_the_refusal(context_factory, alice, project, settings, size):
    settings.RATE_LIMIT_SUBMITS_PER_MINUTE = 1
    settings.QUOTA_DEFAULT_CONCURRENT_RENDERS = None
    ratelimits.count("submit", alice)  # the minute's one submit is spent
    page = context_factory(alice, viewport=VIEWPORTS[size]).new_page()
    problems = Problems(page)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_label("Prompt", exact=True).fill("A lighthouse in a storm, waves breaking")
    page.get_by_role("button", name="Submit render").click()
    alert = page.locator("#submit-form .errorlist.nonfield[role=alert]")
    expect(alert).to_contain_text("Too many submissions: 1 a minute at most. Try again in")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("A lighthouse in a storm, waves breaking")
    assert Render.objects.count() == 0
    assert "{#" not in page.content()  # template comments stay comments
    assert overflow(page) <= 0
    alert.scroll_into_view_if_needed()
    screenshot(page, f"limits-studio-{size}", full_page=False)
    assert problems.all() == [REFUSED]


@pytest.mark.parametrize("size", VIEWPORTS)
def test_without_javascript_the_refusal_is_a_small_page(context_factory, alice, project, settings, size):
    settings.RATE_LIMIT_SUBMITS_PER_MINUTE = 1
    ratelimits.count("submit", alice)
    page = context_factory(alice, viewport=VIEWPORTS[size], java_script_enabled=False).new_page()
    problems = Problems(page)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_label("Prompt", exact=True).fill("A lighthouse in a storm")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Submit render").click()
    assert navigation.value.status == 429 and navigation.value.headers["retry-after"]
    expect(page.get_by_role("heading", name="Slow down a little")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Too many submissions: 1 a minute at most.")
    assert overflow(page) <= 0
    screenshot(page, f"limits-page-{size}", full_page=False)
    assert problems.all() == [REFUSED]
