"""The key form and the key page in headless Chromium at 1440x900 and 390x844: a new base URL without the API key is
refused in words beside the API key field; a test result shows the status and a short, escaped summary of a long
answer; no console error besides the refused form's 400, no CSP violation, no horizontal scroll."""

import json

import pytest

from providers import tasks
from providers.models import KeyTest
from tests.fixtures.browser import PHONE, Problems, overflow, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = [("desktop", {"width": 1440, "height": 900}), ("phone", PHONE)]
MARKER = "MARKER-internal-5e02aa"


@pytest.mark.parametrize("size_name,viewport", VIEWPORTS)
def test_a_moved_key_asks_for_its_secret_and_its_test_shows_a_summary(context_factory, staff, make_key, listener,
                                                                     size_name, viewport):
    key = make_key("Apifree relay", has_webhooks=True)
    page = context_factory(staff, viewport=viewport).new_page()
    problems = Problems(page)
    page.goto(f"/staff/keys/{key.pk}/edit/")
    page.get_by_label("Base URL").fill(listener.url)
    page.get_by_role("button", name="Save").click()
    error = page.get_by_text("The base URL changed: enter the API key again.")
    error.wait_for()
    assert error.is_visible()
    assert page.get_by_text("The base URL changed: enter the webhook signing secret again too").is_visible()
    assert overflow(page) <= 0
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"keyform-moved-refused-{size_name}")

    page.get_by_label("API key").fill("sk-keyadmin-0001")
    page.get_by_label("Webhook signing secret").fill("whsec_bmV3LXByb3ZpZGVyLXdlYmhvb2stc2VjcmV0")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/staff/keys/{key.pk}/")

    message = "<i>Upstream</i> failed. " + "internal detail " * 40 + MARKER
    listener.answer = (500, "application/json", json.dumps({"error": {"message": message, "code": "boom"}}).encode())
    page.get_by_role("button", name="Test key").click()
    page.get_by_text("Testing…").wait_for()
    tasks.test_key(KeyTest.objects.get(key=key).pk)  # the worker's part, here
    result = page.locator('[data-outcome="unavailable"]')
    result.wait_for()
    text = result.inner_text()
    assert "HTTP 500" in text and "<i>Upstream</i> failed." in text and "(code boom)" in text
    assert MARKER not in page.content()
    assert overflow(page) <= 0
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"keyform-test-summary-{size_name}")
    refused = "console: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert problems.all() == [refused]
