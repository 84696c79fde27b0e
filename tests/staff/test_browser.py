"""The staff pages (keys, dashboard, audit log) and the usage page in headless Chromium: no CSP violation or script
error, the key test's result arriving through the htmx poll (a real worker makes the call), and screenshots for docs/
when SORAWEB_SCREENSHOTS is set (`make screenshots`); under `make test` nothing is written."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from providers import audit, keyadmin
from providers.models import ApiKey
from quotas import services as quotas
from quotas.models import LedgerEntry, UserAllowance
from renders.models import Render
from renders.states import Status
from tests.fixtures.browser import DESKTOP, PHONE, Problems, screenshot
from tests.fixtures.sorasim import API_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET_SHOWN_ONCE = API_KEY  # typed into the form; the page must only ever show its last 4


@pytest.mark.slow(30)
@pytest.mark.integration
def test_screenshot_keys_add_and_test(context_factory, staff, project, sorasim_shared, start_worker, live_server):
    start_worker(SITE_URL=live_server.url)
    page = context_factory(staff).new_page()
    problems = Problems(page)

    page.goto("/staff/keys/")
    assert page.get_by_text("No provider keys yet").is_visible()
    page.get_by_role("link", name="Add a key").first.click()
    page.get_by_label("Name:", exact=True).fill("sorasim")
    page.get_by_label("Provider:", exact=True).fill("sorasim")
    page.get_by_label("Base URL:", exact=True).fill(sorasim_shared.api_url)
    page.get_by_label("API key:", exact=True).fill(SECRET_SHOWN_ONCE)
    page.get_by_label("Webhooks:", exact=True).uncheck()
    page.get_by_label("Trailer").check()
    page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page repeats the sticky bar
    screenshot(page, "staff-key-add")
    page.get_by_role("button", name="Add key").click()

    page.wait_for_url(re.compile(r"/staff/keys/\d+/$"))  # the key's page (the add page is /staff/keys/new/)
    assert page.get_by_text(f"••••{API_KEY[-4:]}").first.is_visible()
    key = ApiKey.objects.get(name="sorasim")
    assert page.locator("#webhook-url").inner_text() == key.webhook_url  # SITE_URL + /webhooks/<uuid>/
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.get_by_role("button", name="Test key").click()
    page.locator('[data-outcome="ok"]').wait_for(timeout=30_000)  # the worker's answer, brought by the poll
    assert navigations == []  # swapped in by htmx (the pending poller, then the result), no page load
    assert page.get_by_text("The provider accepted the key.").is_visible()
    assert page.locator("#key-test[data-poll]").count() == 0  # the poller removed itself
    screenshot(page, "staff-key")
    assert SECRET_SHOWN_ONCE not in page.content()

    page.goto("/staff/keys/")
    screenshot(page, "staff-keys")
    assert problems.all() == []


@pytest.fixture
def history(alice, bob, staff, project, make_key):
    """A month of settled renders on two keys, some in flight and failed, and a key out of credit."""
    main, spare = make_key("main"), make_key("spare", secret="sk-spare-0002", rpm_limit=60)
    now = timezone.now()
    for i, (author, key, seconds, delivered) in enumerate([(alice, main, 8, 8), (bob, spare, 12, 12),
                                                           (alice, spare, 4, 4), (alice, main, 8, 7.9)] * 4):
        render = Render.objects.create(project=project, author=author, prompt=f"Shot {i}", model="sora-2",
                                       size="1280x720", seconds=seconds, status=Status.COMPLETED, api_key=key)
        with transaction.atomic():
            quotas.reserve(render)
        render.delivered_seconds = Decimal(str(delivered))
        render.save(update_fields=["delivered_seconds"])
        quotas.settle(render)
        LedgerEntry.objects.filter(render=render).update(created_at=now - timedelta(days=(i * 2) % 27))
    for status in (Status.QUEUED, Status.IN_PROGRESS, Status.WAITING):
        render = Render.objects.create(project=project, author=alice, prompt="In flight", model="sora-2",
                                       size="1280x720", seconds=4, status=status, api_key=main)
        with transaction.atomic():
            quotas.reserve(render)
    Render.objects.create(project=project, author=bob, prompt="Refused", model="sora-2", size="1280x720", seconds=4,
                          status=Status.FAILED, error_code="moderation_blocked",
                          error_message="The provider's safety system refused this prompt.")
    spare.mark_out_of_credit("OutOfCredit: You exceeded your current quota (HTTP 429, code=insufficient_quota)")
    keyadmin.drain(main, staff)  # rotation under way: the waiting render has no key but the empty one
    with audit.acting_as(staff):
        UserAllowance.objects.create(user=bob, monthly_seconds=600)


@pytest.mark.parametrize("size_name,viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshot_usage(context_factory, alice, history, size_name, viewport):
    page = context_factory(alice, viewport=viewport).new_page()
    problems = Problems(page)
    page.goto("/usage/")
    assert page.get_by_role("heading", name="My usage").is_visible()
    assert page.locator("svg.chart-svg rect.chart-bar").count() == 30
    assert page.get_by_text("waiting for credit").is_visible()
    screenshot(page, f"usage-{size_name}")
    assert problems.all() == []


def test_screenshot_staff_dashboard(context_factory, staff, history):
    page = context_factory(staff).new_page()
    problems = Problems(page)
    page.goto("/staff/")
    assert page.get_by_role("heading", name="Spend per day, last 30 days").is_visible()
    assert page.get_by_text("Provider key “spare” is out of credit").is_visible()  # the banner
    assert page.locator("svg.sparkline").count() == 5  # 2 users, 1 project, 2 keys
    screenshot(page, "staff-dashboard")
    page.goto("/staff/audit/")
    screenshot(page, "staff-audit")
    assert problems.all() == []
