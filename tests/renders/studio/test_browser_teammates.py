"""Teammates within seconds, in two headless Chromium contexts (alice and bob in one project) against a live
server, a real Celery worker and sorasim over HTTP, on the default configuration (the key's webhooks on, as
`make run` seeds it): bob's render appears in alice's open studio page a poll interval after his submit, its
status changes follow there without a reload, and while nothing changes alice's poll gets empty answers; bob,
gone to another page, is told there that it completed.

The exact latency is printed by bench/bench_poll_queries.py; here the deadline is three times the 5 s target, so
the margin over the 2 s poll stays above 10 s under load."""

import time

import pytest
from playwright.sync_api import expect

from renders.models import Render
from renders.states import Status
from tests.fixtures.sorasim import make_sim_key

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.project(members={"bob": "editor"})]

TARGET_SECONDS = 5
DEADLINE_SECONDS = 3 * TARGET_SECONDS  # over 10 s of margin beyond the 2 s poll
BADGE = "id => { const card = document.getElementById('render-' + id); " \
        "return card ? card.querySelector('.badge').textContent.trim() : null; }"


@pytest.mark.slow(120)
@pytest.mark.timing("the teammate's card within 15 s, three times the 5 s target, of a poll every 2 s")
def test_a_teammates_render_appears_within_seconds_and_its_status_changes_follow(
        context_factory, alice, bob, project, sorasim_shared, live_server, start_worker, settings):
    assert settings.STUDIO_NOTICE_POLL_SECONDS <= 2  # the default: the every-page poll is cheap enough for it
    key = make_sim_key(sorasim_shared, live_server)
    assert key.has_webhooks
    sorasim_shared.control.patch_faults(job_seconds=6)  # long enough to see it in flight on alice's page
    start_worker(SITE_URL=live_server.url)

    alice_page = context_factory(alice).new_page()
    answers = []
    alice_page.on("response", lambda r: answers.append(r.status) if "/notices/" in r.url else None)
    alice_page.goto(f"/projects/{project.pk}/")
    alice_page.evaluate("window.sameDocument = true")  # a reload would lose it
    expect(alice_page.locator("#history-empty")).to_be_visible()
    bob_page = context_factory(bob).new_page()
    bob_page.goto(f"/projects/{project.pk}/")

    # alice's page asks every 2 s; the project does not change, so the answers are empty
    deadline = time.monotonic() + 30
    while answers.count(204) < 2 and time.monotonic() < deadline:
        alice_page.wait_for_timeout(100)
    assert answers.count(204) >= 2 and 200 not in answers, answers

    prompt = "Bob's lighthouse at dusk, drone shot, warm light"
    bob_page.get_by_label("Prompt", exact=True).fill(prompt)
    bob_page.get_by_role("button", name="Submit render").click()
    submitted = time.monotonic()  # the card in bob's own page is the submit's answer: the render is committed
    mine = bob_page.locator("#history-list > li", has_text=prompt).first
    expect(mine).to_be_visible()
    render_id = int(mine.get_attribute("id").removeprefix("render-"))
    bob_page.goto("/settings/")  # bob moves on; the notice will find him there

    card = alice_page.locator(f"#render-{render_id}")
    expect(card).to_contain_text(prompt, timeout=DEADLINE_SECONDS * 1000)
    arrived = time.monotonic() - submitted
    assert arrived <= DEADLINE_SECONDS, arrived
    expect(card).to_contain_text("bob")
    expect(alice_page.locator("#history-empty")).to_be_hidden()  # "No renders yet" hides itself once a card is in
    # the page's in-flight poll was switched on for the teammate's card
    expect(alice_page.locator("#inflight-poll")).to_have_attribute("data-poll", "2")

    # its status changes follow on alice's page, to the end, without a reload
    badges = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        badge = alice_page.evaluate(BADGE, render_id)
        if badge and (not badges or badges[-1] != badge):
            badges.append(badge)
        if badge == "Completed":
            break
        alice_page.wait_for_timeout(200)
    render = Render.objects.get(pk=render_id)
    assert render.status == Status.COMPLETED, (render.status, render.error_message)
    assert badges[-1] == "Completed" and len(badges) >= 2, badges  # seen in flight first, then finished
    expect(card.locator(".thumb img")).to_be_visible()
    assert alice_page.evaluate("window.sameDocument") is True
    expect(alice_page.locator("#inflight-poll")).not_to_have_attribute("data-poll", "2")  # nothing in flight
    notice = bob_page.locator("#notices .alert", has_text="completed")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="Dismiss this notice").click()
    expect(notice).to_have_count(0)
    print(f"\nbob's render reached alice's page {arrived:.2f} s after his submit; badges seen: {badges}")
