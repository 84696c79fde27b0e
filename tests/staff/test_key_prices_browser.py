"""The key's price table in headless Chromium at 1440x900 and 390x844: staff type a price, a wrong one is refused in
words beside its row, the saved prices show on the key's page; no console error, no CSP violation, no horizontal
scroll."""

import re

import pytest

from providers.models import ApiKey
from tests.fixtures.browser import PHONE, Problems, overflow, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = [("desktop", {"width": 1440, "height": 900}), ("phone", PHONE)]


@pytest.mark.parametrize("size_name,viewport", VIEWPORTS)
def test_staff_price_a_key_per_model_and_size(context_factory, staff, make_key, size_name, viewport):
    key = make_key("Apifree relay", model_table={"sora-2": {}, "sora-2-pro": {"sizes": ["1280x720", "1920x1080"]}},
                   prices={"sora-2": {"720x1280": "0.08"}})
    page = context_factory(staff, viewport=viewport).new_page()
    problems = Problems(page)
    page.goto(f"/staff/keys/{key.pk}/edit/")
    table = page.locator("#prices")
    assert table.locator("tbody tr").count() == 4  # sora-2 at both sizes, sora-2-pro at the two it offers
    assert page.get_by_label("sora-2 at 720x1280", exact=True).input_value() == "0.08"
    pro = page.get_by_label("sora-2-pro at 1920x1080", exact=True)
    assert pro.input_value() == "" and pro.get_attribute("placeholder") == "0.70"
    assert overflow(page) <= 0

    pro.fill("0.12345")
    page.get_by_role("button", name="Save").click()
    error = page.get_by_text("sora-2-pro at 1920x1080: At most 4 decimal places, e.g. 0.3125.")
    error.wait_for()
    assert error.is_visible() and page.get_by_label("sora-2-pro at 1920x1080", exact=True).input_value() == "0.12345"
    assert overflow(page) <= 0
    page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page repeats the sticky nav
    screenshot(page, f"staff-key-prices-error-{size_name}")

    page.get_by_label("sora-2-pro at 1920x1080", exact=True).fill("0.65")
    page.get_by_label("sora-2 at 720x1280", exact=True).fill("")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/staff/keys/{key.pk}/$"))
    prices = page.locator("[data-prices]")
    assert "sora-2-pro 1920x1080: $0.65" in prices.inner_text()
    assert "sora-2 720x1280: $0.10 (default)" in prices.inner_text()
    assert overflow(page) <= 0
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"staff-key-prices-saved-{size_name}")
    key.refresh_from_db()
    assert key.prices == {"sora-2-pro": {"1920x1080": "0.65"}}
    assert ApiKey.objects.get(pk=key.pk).prices == key.prices
    # the refused form is answered 400 on purpose (Chromium logs that status): that one and nothing else
    refused = "console: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert problems.all() == [refused]
