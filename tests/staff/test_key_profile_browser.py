"""The key form's preset choice and the detect page in headless Chromium at 1440x900 and 390x844: the preset
fills the form through static/js/staff.js (no inline script), the detect result arrives through the htmx poll
from a real worker, and no page has a console error, a CSP violation or a horizontal scroll."""

import re

import pytest

from providers import tasks
from providers.models import KeyDetection
from tests.fixtures.browser import DESKTOP, PHONE, Problems, overflow, screenshot
from tests.fixtures.sorasim import dialect_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = [("desktop", DESKTOP), ("phone", PHONE)]


@pytest.mark.parametrize("size_name,viewport", VIEWPORTS)
def test_choosing_a_preset_fills_the_form(context_factory, staff, size_name, viewport):
    page = context_factory(staff, viewport=viewport).new_page()
    problems = Problems(page)
    page.goto("/staff/keys/new/")
    assert page.get_by_label("Webhooks:", exact=True).is_checked() is False
    page.get_by_label("Preset:", exact=True).select_option("azure")
    assert page.get_by_label("Key header:", exact=True).input_value() == "api-key"
    assert page.get_by_label("Base URL:", exact=True).get_attribute("placeholder").endswith("/openai/v1")
    assert page.get_by_label("Provider:", exact=True).input_value() == "Azure AI Foundry"
    page.get_by_label("Preset:", exact=True).select_option("newapi")
    assert page.get_by_label("Provider:", exact=True).input_value() == "new-api / one-api relay"
    page.get_by_label("Provider:", exact=True).fill("Our relay")  # a label of staff's own stays
    page.get_by_label("Preset:", exact=True).select_option("litellm")
    assert page.get_by_label("Provider:", exact=True).input_value() == "Our relay"
    page.get_by_label("Preset:", exact=True).select_option("newapi")
    assert page.get_by_label("Key header:", exact=True).input_value() == ""
    assert not page.get_by_label("List endpoint:", exact=True).is_checked()
    assert not page.get_by_label("Remix by endpoint:", exact=True).is_checked()
    page.get_by_label("List endpoint:", exact=True).check()  # still editable
    page.get_by_label("Preset:", exact=True).select_option("apifree")
    assert page.get_by_label("Remix by create:", exact=True).is_checked()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"staff-key-preset-{size_name}")
    assert overflow(page) <= 0
    assert problems.all() == []


@pytest.mark.slow(30)
@pytest.mark.integration
def test_detect_through_a_worker_and_apply(context_factory, staff, sorasim_shared, start_worker, live_server):
    start_worker(SITE_URL=live_server.url)
    key = dialect_key(sorasim_shared, "azure", path="/openai/v1")
    page = context_factory(staff).new_page()
    problems = Problems(page)
    page.goto(f"/staff/keys/{key.pk}/")
    page.get_by_role("link", name="Detect", exact=True).first.click()
    page.wait_for_url(re.compile(r"/detect/$"))
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.get_by_role("button", name="Detect").click()
    page.locator('[data-outcome="done"]').wait_for(timeout=30_000)  # the worker's answer, brought by the poll
    assert navigations == [] and page.locator("#key-detect[data-poll]").count() == 0
    assert page.get_by_text("It looks like Azure AI Foundry.").is_visible()
    assert overflow(page) <= 0
    screenshot(page, "staff-key-detect")
    page.get_by_role("button", name="Apply the detected profile").click()
    page.wait_for_url(re.compile(rf"/staff/keys/{key.pk}/$"))
    assert page.get_by_text("Applied the detected profile").is_visible()
    key.refresh_from_db()
    assert (key.preset, key.auth_header) == ("azure", "api-key")
    assert problems.all() == []


@pytest.mark.parametrize("size_name,viewport", VIEWPORTS)
def test_the_detect_page_and_the_profile(context_factory, staff, sorasim_shared, size_name, viewport):
    key = dialect_key(sorasim_shared, "newapi")
    detection = KeyDetection.objects.create(key=key, requested_by=staff)
    tasks.detect_key(detection.pk)
    page = context_factory(staff, viewport=viewport).new_page()
    problems = Problems(page)
    page.goto(f"/staff/keys/{key.pk}/detect/")
    assert page.locator("#proposal").is_visible() and page.get_by_text("no list endpoint").first.is_visible()
    assert overflow(page) <= 0
    page.goto(f"/staff/keys/{key.pk}/")
    assert page.locator("[data-profile]").is_visible()
    assert overflow(page) <= 0
    assert problems.all() == []
