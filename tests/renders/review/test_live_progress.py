"""Progress while someone watches, in headless Chromium on the `make run` shape: the key's webhooks on (sorasim
posts them to the live server) and the production safety net of 300 s, so only the watched mark can make the
worker ask for progress. A 30 s sorasim job shows several progress values on the render page and on its studio
card without a reload, and the render page's title badge, status card and time left move together."""

import pytest
from playwright.sync_api import Error as PlaywrightError

from renders import actions
from renders.models import Render
from renders.states import Status
from tests.fixtures.sorasim import API_KEY, make_sim_key
from tests.fixtures.waits import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

JOB_SECONDS = 30

RENDER_PAGE = """() => {
  const bar = document.getElementById('render-progress');
  const left = document.getElementById('render-time-left');
  return {value: bar ? bar.getAttribute('value') : null,
          title: document.getElementById('render-title-badge').textContent.trim(),
          card: document.querySelector('#render-status .badge').textContent.trim(),
          left: left ? left.textContent.trim() : '', same: window.sameDocument === true};
}"""

STUDIO_CARD = """id => {
  const card = document.getElementById('render-' + id);
  const bar = card && card.querySelector('progress');
  return bar ? bar.getAttribute('value') : null;
}"""


@pytest.mark.timing("3 distinct values in a 30 s job polled every 2-5 s: room for 6 to 15")
@pytest.mark.slow(150)
def test_a_watched_30_s_job_shows_its_progress_on_the_render_page_and_the_card(
        alice, project, sim, live_server, start_worker, context_factory):
    make_sim_key(sim, live_server)  # webhooks on, as `make run` seeds its key
    sim.control.patch_faults(job_seconds=JOB_SECONDS)
    worker = start_worker(SITE_URL=live_server.url, RENDER_POLL_WITH_WEBHOOKS_SECONDS="300")
    render = actions.submit(alice, project, prompt="A paper lantern rises over a dark lake, slow push-in",
                            model="sora-2", size="1280x720", seconds=4)

    context = context_factory(alice)
    studio = context.new_page()
    studio.goto(f"/projects/{project.pk}/")
    page = context.new_page()
    page.goto(f"/projects/{project.pk}/renders/{render.pk}/")
    page.evaluate("window.sameDocument = true")  # a reload would lose it

    samples, card_values = [], []

    def sample():
        try:
            state = page.evaluate(RENDER_PAGE)
        except PlaywrightError:  # the page is reloading: the render was stored meanwhile
            return True
        samples.append(state)
        card = studio.evaluate(STUDIO_CARD, render.pk)
        if card is not None:
            card_values.append(int(card))
        # until it is finished at the provider (the page reloads once when it is stored)
        return not state["same"] or state["title"] in ("Storing", "Completed")

    try:
        wait_for(sample, timeout=JOB_SECONDS * 3, every=0.2, what="the render to finish at the provider")
    except AssertionError:
        raise AssertionError(f"{Render.objects.get(pk=render.pk).status}; {samples[-3:]}\n"
                             f"{worker.log()[-3000:]}") from None

    seen = [s for s in samples if s["same"]]
    page_values = [int(s["value"]) for s in seen if s["value"] is not None]
    intermediate = sorted({v for v in page_values if 0 < v < 100})
    assert len(intermediate) >= 3, page_values
    assert page_values == sorted(page_values), page_values  # progress only grows
    card_intermediate = sorted({v for v in card_values if 0 < v < 100})
    assert len(card_intermediate) >= 3, card_values
    assert card_values == sorted(card_values), card_values
    # the title's badge and the status card's badge never disagree, and a bar under way says "In progress" with a
    # time left beside it
    assert all(s["title"] == s["card"] for s in seen), [(s["title"], s["card"]) for s in seen]
    for s in seen:
        if s["value"] is not None and 0 < int(s["value"]) < 100:
            assert s["title"] == "In progress" and s["left"].startswith("About "), s

    # it completes (the page reloads once, to show the player)
    page.locator("#player").wait_for(timeout=60_000)
    assert page.locator("#render-title-badge").inner_text() == "Completed"
    render.refresh_from_db()
    assert render.status == Status.COMPLETED
    # the progress came from polls asked for because the page was watched: more than the one retrieve that
    # follows a webhook, and never a second create
    counters = sim.control.counters(API_KEY)
    assert counters["requests"].get("GET /v1/videos/{video_id} 200", 0) >= 3, counters["requests"]
    assert counters["creates_accepted"] == 1
