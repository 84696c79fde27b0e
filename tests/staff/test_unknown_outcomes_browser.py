"""The unknown-outcomes page in headless Chromium at 1440x900 and 390x844: staff adopt a lost job by its id (a real
sorasim speaking new-api) and reconcile an incident through the page's forms, with no console error, no CSP violation
and no horizontal scroll."""

import pytest

from renders import reconcile
from renders.models import BillingIncident
from renders.states import Status
from tests.fixtures.browser import PHONE, Problems, overflow, screenshot
from tests.staff.test_unknown_outcomes import job_of, lost_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1440, "height": 900}


@pytest.mark.slow(30)
@pytest.mark.parametrize("size_name,viewport", [("desktop", WIDE), ("phone", PHONE)])
def test_adopt_and_reconcile_on_the_page(context_factory, staff, alice, project, sim, relay, settings,
                                         size_name, viewport):
    gone = lost_create(sim, alice, project, prompt=f"a harbour at night, lanterns swaying ({size_name})")
    settings.RENDER_RECONCILE_AFTER_SECONDS = settings.RENDER_ADOPT_WAIT_SECONDS = 0
    reconcile.settle_unknown_outcomes()  # its wait ran out: failed, refunded, an incident opened
    incident = BillingIncident.objects.get(render=gone)
    waiting = lost_create(sim, alice, project, prompt=f"a red fox crossing a snowy field ({size_name})")

    page = context_factory(staff, viewport=viewport).new_page()
    problems = Problems(page)
    page.goto("/staff/")
    assert page.locator('[data-count="waiting"]').inner_text() == "1"
    assert page.locator('[data-count="incidents"]').inner_text() == "1"
    assert page.locator(f'[data-dimension="key"] [data-possibly-billed="{incident.amount_usd}"]').is_visible()
    screenshot(page, f"staff-dashboard-outcomes-{size_name}")
    assert overflow(page) <= 0
    page.get_by_role("link", name="Adopt and reconcile").click()
    page.wait_for_url("**/staff/unknown-outcomes/")
    assert page.get_by_role("heading", name="Waiting for a job id").is_visible()
    screenshot(page, f"staff-unknown-outcomes-{size_name}")
    assert overflow(page) <= 0

    page.get_by_label(f"Job id for render #{waiting.pk}").fill(job_of(sim, waiting))
    page.get_by_role("button", name="Adopt job id").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Render #{waiting.pk} adopted the job").is_visible()
    assert page.get_by_text("No render waits for its job id.").is_visible()
    waiting.refresh_from_db()
    assert waiting.provider_video_id and waiting.status != Status.SENDING

    row = page.locator(f'[data-incident="{incident.pk}"]')
    row.get_by_label("Not billed").check()
    row.get_by_label(f"Note on render #{gone.pk}").fill("not on the December invoice")
    row.get_by_role("button", name="Resolve").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Reconciled render #{gone.pk}: not billed.").is_visible()
    assert page.get_by_text("Nothing to reconcile.").is_visible()
    assert page.get_by_text("not billed — not on the December invoice").is_visible()
    screenshot(page, f"staff-unknown-outcomes-done-{size_name}")
    assert overflow(page) <= 0
    page.get_by_role("link", name=relay.name).first.click()  # the key's spend: reconciled, nothing possibly billed
    assert page.locator('[data-spend="possibly-billed"]').inner_text() == "$0.00 nothing to reconcile"
    screenshot(page, f"staff-key-spend-{size_name}")
    assert overflow(page) <= 0
    assert problems.all() == []
