"""Variations in headless Chromium on the default configuration (a key with webhooks on, sorasim posting them to the
live server, a real worker): 4 variations with room for 3 in flight are refused whole, in plain words; 3 are
accepted as one group marked "1 of 3" to "3 of 3" in the history; its grid shows the three side by side, each
finishing into a player without a reload, and a favourite starred there stays. The grid logs no console error or
CSP violation and is never wider than a phone."""

import pytest
from playwright.sync_api import expect

from quotas.models import Reservation
from renders.models import Favourite, Render
from renders.states import Status
from tests.fixtures.browser import PHONE, Problems, overflow, screenshot
from tests.fixtures.sorasim import make_sim_key
from tests.fixtures.waits import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PROMPT = "Three takes: a paper lantern rises over a dark lake, slow push in"


@pytest.mark.slow(25)
def test_variations_are_refused_whole_then_submitted_as_a_group_and_compared_side_by_side(
        context_factory, alice, project, quota_defaults, sorasim_shared, live_server, start_worker):
    key = make_sim_key(sorasim_shared, live_server)  # the default configuration: webhooks on
    assert key.has_webhooks
    start_worker()
    page = context_factory(alice).new_page()
    page.goto(f"/projects/{project.pk}/")
    expect(page.get_by_label("Variations")).to_have_value("1")

    # room for 3 in flight: 4 variations are refused, and nothing is created
    page.get_by_label("Prompt", exact=True).fill(PROMPT)
    page.get_by_label("Variations").select_option("4")
    # the live estimate says so before the submit, and the form's answer after it
    estimate = page.locator("#estimate")
    expect(estimate.get_by_role("alert")).to_contain_text("Room for 3 more renders in flight")
    expect(estimate).to_contain_text("$1.60 for 4 variations of 4 s")  # 4 × 4 s of sora-2 at $0.10 a second
    page.get_by_role("button", name="Submit render").click()
    refusal = page.locator("#submit-form .errorlist").filter(has_text="Room for 3 more renders in flight")
    expect(refusal).to_contain_text("choose 3 variations or fewer")
    assert not Render.objects.exists() and not Reservation.objects.exists()

    # 3 fit: one group, marked in the history, each card its own render
    page.get_by_label("Variations").select_option("3")
    page.get_by_role("button", name="Submit render").click()
    marks = page.locator("#history-list .variation-mark")
    expect(marks).to_have_count(3)
    expect(marks.nth(0)).to_contain_text("1 of 3")
    expect(marks.nth(2)).to_contain_text("3 of 3")
    group = list(Render.objects.order_by("variation_number"))
    assert len(group) == 3 and len({r.variation_group for r in group}) == 1

    # the grid: three cells side by side, which become players as the worker finishes them (no reload)
    grid = context_factory(alice, viewport=PHONE).new_page()
    problems = Problems(grid)
    page.close()
    grid.goto(f"/projects/{project.pk}/renders/{group[1].pk}/variations/")
    cells = grid.locator("#variations-grid > li")
    expect(cells).to_have_count(3)
    expect(grid.locator("#variations-grid video")).to_have_count(3, timeout=90_000)
    # a cell shows its player once the video is stored, a moment before the thumbnail and the completion
    wait_for(lambda: set(Render.objects.values_list("status", flat=True)) == {Status.COMPLETED}, timeout=60,
             what="the three variations to complete")
    expect(grid.locator("#variations-poll")).not_to_have_attribute("data-poll", "3")

    # keep the second one: its star, on the grid, is the same favourite as everywhere
    cells.nth(1).locator("button.star").click()
    expect(cells.nth(1).locator("button.star")).to_have_attribute("aria-pressed", "true")
    assert list(Favourite.objects.filter(user=alice).values_list("render_id", flat=True)) == [group[1].pk]
    grid.reload()
    expect(grid.locator("#variations-grid button.star[aria-pressed=true]")).to_have_count(1)

    assert overflow(grid) <= 0
    grid.set_viewport_size({"width": 1440, "height": 900})
    tops = [cells.nth(i).bounding_box()["y"] for i in range(3)]
    assert max(tops) - min(tops) < 2, tops  # side by side on a desktop
    grid.evaluate("window.scrollTo(0, 0)")
    screenshot(grid, "variations-desktop")
    assert overflow(grid) <= 0
    assert problems.all() == []
