"""The submit loop in headless Chromium on the default configuration (a key with webhooks on, sorasim posting them to
the live server, a real worker): the prompt stays after a submit and can be cleared; the new card comes into view
and takes focus at 1440x900; "Use this prompt" fills the form in place; the estimate's "Renders in flight" and the
notices follow a render that finishes; and none of it logs a console error, an uncaught exception, a failed
request or a CSP violation (option changes, quick changes, a second submit, the swaps of the polls)."""

import pytest
from playwright.sync_api import expect

from renders.models import Render
from renders.states import Status
from tests.fixtures.browser import Problems, overflow
from tests.fixtures.sorasim import make_sim_key
from tests.renders.studio.conftest import make_renders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.project(members={"bob": "editor"})]

DESKTOP_1440 = {"width": 1440, "height": 900}
def in_viewport(locator):
    return locator.evaluate("""el => { const r = el.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight; }""")


def wait_for_focus_on(page, card_id):
    """The focus moves after the form's swap settles, a moment after the card shows: wait for it."""
    page.wait_for_function("id => (document.activeElement.closest('#history-list > li') || {}).id === id",
                           arg=card_id)


@pytest.fixture
def sim_webhooks(sorasim_shared, live_server):
    """The default configuration: the key's webhooks on (sorasim posts them to the live server)."""
    key = make_sim_key(sorasim_shared, live_server)
    assert key.has_webhooks
    return key


def test_the_prompt_stays_and_the_new_card_comes_into_view_with_focus(context_factory, alice, project,
                                                                      quota_defaults):
    make_renders(project, [alice], 8)  # a full first row and more: at 1440x900 the history starts below the fold
    page = context_factory(alice, viewport=DESKTOP_1440).new_page()
    problems = Problems(page, failed_requests=True)
    page.goto(f"/projects/{project.pk}/")
    first = page.locator("#history-list > li").first
    assert not in_viewport(first)

    prompt = "A paper boat drifts down a rainy gutter, close-up, overcast light"
    box = page.get_by_label("Prompt", exact=True)
    box.fill(prompt)
    page.get_by_label("Length", exact=True).select_option("8")
    page.get_by_role("button", name="Submit render").click()
    card = page.locator("#history-list > li", has_text=prompt)
    expect(card).to_be_visible()
    render = Render.objects.get(prompt=prompt)

    # the new card is on screen and has the focus; the prompt and the options stay for the next try
    expect(card).to_be_in_viewport()
    wait_for_focus_on(page, f"render-{render.pk}")
    assert in_viewport(card)
    expect(box).to_have_value(prompt)
    expect(page.get_by_label("Length", exact=True)).to_have_value("8")

    # tweak and go again: a second submit, then clear the box for something else
    box.fill(prompt + ", at dusk")
    page.get_by_role("button", name="Submit render").click()
    second = page.locator("#history-list > li").first
    expect(second).to_contain_text(", at dusk")
    wait_for_focus_on(page, second.get_attribute("id"))
    page.get_by_role("button", name="Clear the prompt").click()
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    assert Render.objects.filter(author=alice, status=Status.SUBMITTING).count() == 2
    # the clear button and "Use this prompt" fit a phone
    page.set_viewport_size({"width": 390, "height": 844})
    assert overflow(page) <= 0
    assert problems.all() == []


def test_use_this_prompt_fills_the_form_in_place(context_factory, alice, bob, project):
    source, = make_renders(project, [bob], 1, model="sora-2-pro", size="1792x1024", seconds=12,
                           prompt="A hummingbird hovers at a red flower, macro, morning light")
    page = context_factory(alice, viewport=DESKTOP_1440).new_page()
    problems = Problems(page, failed_requests=True)
    page.goto(f"/projects/{project.pk}/")
    page.evaluate("window.sameDocument = true")  # a reload would lose it
    expect(page.locator("#estimate")).to_contain_text("$0.40")

    page.locator(f"#render-{source.pk}").get_by_role("link", name="Use this prompt").click()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(source.prompt)
    expect(page.get_by_label("Prompt", exact=True)).to_be_focused()
    expect(page.get_by_label("Model", exact=True)).to_have_value("sora-2-pro")
    expect(page.get_by_label("Size", exact=True)).to_have_value("1792x1024")
    expect(page.get_by_label("Length", exact=True)).to_have_value("12")
    expect(page.locator("#estimate")).to_contain_text("$6.00")  # the estimate follows, as for a person's choice
    assert page.evaluate("window.sameDocument") is True
    assert problems.all() == []


def test_quick_option_changes_ask_for_the_estimate_without_errors_or_aborted_requests(context_factory, bob, project):
    page = context_factory(bob).new_page()
    problems = Problems(page, failed_requests=True)
    estimates = []
    page.on("request", lambda request: estimates.append(request.url) if "/estimate/" in request.url else None)
    page.goto(f"/projects/{project.pk}/")
    model, size, length = (page.get_by_label(name, exact=True) for name in ("Model", "Size", "Length"))
    for _ in range(3):  # faster than the answers come back
        model.select_option("sora-2-pro")
        size.select_option("1792x1024")
        length.select_option("12")
        model.select_option("sora-2")
        length.select_option("8")
    expect(page.locator("#estimate")).to_contain_text("$0.80")  # the last choice wins: sora-2, 8 s
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    assert estimates, "the options asked for no estimate"
    assert page.get_by_role("button", name="Submit render").is_enabled()
    assert problems.all() == []


@pytest.mark.slow(25)
def test_a_finished_render_refreshes_the_in_flight_count_and_the_notices(context_factory, alice, project,
                                                                         quota_defaults, sim_webhooks, sorasim_shared,
                                                                         live_server, start_worker, settings):
    settings.STUDIO_NOTICE_POLL_SECONDS = 120  # the every-page poll would not bring the notice in this test's time
    sorasim_shared.control.patch_faults(job_seconds=3)
    worker = start_worker(SITE_URL=live_server.url)
    page = context_factory(alice, viewport=DESKTOP_1440).new_page()
    problems = Problems(page, failed_requests=True)
    page.goto(f"/projects/{project.pk}/")
    expect(page.locator("#history-empty")).to_be_visible()

    prompt = "A lighthouse in a storm, wide shot, night"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_role("button", name="Submit render").click()
    card = page.locator("#history-list > li", has_text=prompt)
    expect(card).to_be_visible()
    expect(page.locator("#history-empty")).to_be_hidden()
    expect(page.locator("#estimate")).to_contain_text("Renders in flight: 1 of 3")

    expect(card.locator(".badge")).to_have_text("Completed", timeout=90_000)
    # both come with the finished card (the every-page poll is 120 s away): the default deadline is ample for it
    expect(page.locator("#estimate")).to_contain_text("Renders in flight: 0 of 3")
    expect(page.locator("#notices .alert", has_text="completed")).to_be_visible()
    render = Render.objects.get(prompt=prompt)
    assert render.status == Status.COMPLETED, worker.log()[-2000:]
    assert problems.all() == []


def test_a_swap_keeps_no_inline_style_so_the_csp_has_nothing_to_refuse(context_factory, bob, project):
    # a script or a browser extension (a grammar checker, autofill) styles the prompt box and the estimate through
    # the CSSOM, which the CSP allows; htmx's settle step must not copy that style back as an attribute when the
    # estimate and then the form are swapped (the CSP's style-src refuses inline style attributes)
    page = context_factory(bob).new_page()
    problems = Problems(page, failed_requests=True)
    page.goto(f"/projects/{project.pk}/")
    page.evaluate("""() => { document.getElementById("id_prompt").style.minHeight = "6rem";
                             document.getElementById("estimate").style.opacity = "0.99"; }""")
    page.get_by_label("Length", exact=True).select_option("8")
    expect(page.locator("#estimate")).to_contain_text("$0.80")
    page.get_by_label("Prompt", exact=True).fill("A tram crosses the bridge at noon, wide shot")
    page.get_by_role("button", name="Submit render").click()
    expect(page.locator("#history-list > li")).to_have_count(1)
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-request')")
    assert problems.all() == []
