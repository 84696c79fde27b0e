"""The studio in headless Chromium, against a live server, a real Celery worker, Redis, PostgreSQL and sorasim over
HTTP: progress to completion without a reload, one poll per interval for the whole page, a wrong-size reference
cropped and accepted, and the page without JavaScript (a teammate's render in another browser:
test_browser_teammates.py)."""

import time

import pytest
from PIL import Image
from playwright.sync_api import expect

from projects.models import Membership, Project, Role
from providers.models import ApiKey
from renders import actions
from renders.models import Favourite, Render
from renders.states import Status
from tests.fixtures.sorasim import API_KEY, WEBHOOK_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]

CARD_STATE = """id => {
  const card = document.getElementById('render-' + id);
  if (!card) return null;
  const bar = card.querySelector('progress');
  return {badge: card.querySelector('.badge').textContent.trim(), value: bar ? bar.getAttribute('value') : null,
          thumbnail: !!card.querySelector('.thumb img')};
}"""


class Team:
    def __init__(self, alice, bob, project):
        self.alice, self.bob, self.project = alice, bob, project

    @property
    def url(self):
        return f"/projects/{self.project.pk}/"


@pytest.fixture
def team(alice, bob, sorasim_shared):
    project = Project.objects.create(name="Trailer", created_by=alice)
    Membership.objects.create(project=project, user=alice, role=Role.OWNER)
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    # polling only: the worker's polls (every 0.5 to 2 s) are what moves the progress
    key = ApiKey(name="sorasim", base_url=sorasim_shared.api_url, has_webhooks=False, rpm_limit=0, max_concurrent=0)
    key.secret = API_KEY
    key.webhook_secret = WEBHOOK_SECRET
    key.save()
    return Team(alice, bob, project)


def submit_in_page(page, prompt):
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_role("button", name="Submit render").click()
    card = page.locator("#history-list > li", has_text=prompt)
    expect(card).to_be_visible()
    return int(card.get_attribute("id").removeprefix("render-"))


def watch(page, render_id, until="Completed", timeout=90):
    """Sample the card every 0.2 s until its badge says `until`; the progress values seen on the way."""
    values = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.evaluate(CARD_STATE, render_id)
        if state and state["value"] is not None:
            values.append(int(state["value"]))
        if state and state["badge"] == until:
            return values, state
        page.wait_for_timeout(200)
    render = Render.objects.get(pk=render_id)
    raise AssertionError(f"render {render_id} is {render.status} ({render.error_message}); card {state}")


@pytest.mark.slow(40)
def test_a_submitted_render_shows_its_progress_to_completion_without_a_reload(context_factory, team, sorasim_shared,
                                                                             start_worker):
    sorasim_shared.control.patch_faults(job_seconds=10)
    start_worker()
    page = context_factory(team.alice).new_page()
    page.goto(team.url)
    page.evaluate("window.sameDocument = true")  # a reload would lose it
    loads = []
    page.on("load", lambda *_: loads.append(1))

    render_id = submit_in_page(page, "A paper boat drifts down a rainy gutter, close-up, overcast light")
    values, state = watch(page, render_id)

    intermediate = sorted({v for v in values if 0 < v < 100})
    assert len(intermediate) >= 2, values
    assert values == sorted(values), values  # progress only grows
    assert state["thumbnail"] and state["value"] is None  # the finished card: a thumbnail, no bar
    assert page.evaluate("window.sameDocument") is True and loads == []
    # nothing is in flight any more: the page's poll element has switched itself off
    expect(page.locator("#inflight-poll")).not_to_have_attribute("data-poll", "2")
    assert Render.objects.get(pk=render_id).status == Status.COMPLETED


@pytest.mark.slow(25)
def test_three_cards_in_flight_make_one_poll_per_interval_and_none_after_completion(context_factory, team,
                                                                                   sorasim_shared, start_worker):
    sorasim_shared.control.patch_faults(job_seconds=300)  # the jobs end when this test says so, not by the clock
    start_worker()
    renders = [actions.submit(team.alice, team.project, prompt=f"Take {i}: a lighthouse in a storm",
                               model="sora-2", size="720x1280", seconds=4) for i in range(3)]
    page = context_factory(team.alice).new_page()
    polls = []
    page.on("request", lambda request: polls.append(request) if "/inflight/" in request.url else None)
    page.goto(team.url)
    expect(page.locator(".inflight-id")).to_have_count(3)
    deadline = time.monotonic() + 60
    while len(polls) < 3 or not all(r.provider_video_id for r in renders):
        assert time.monotonic() < deadline, f"{len(polls)} polls; jobs {[r.provider_video_id for r in renders]}"
        page.wait_for_timeout(200)  # the page's events are heard while Playwright waits
        for render in renders:
            render.refresh_from_db()

    for render in renders:  # three polls made while all three were in flight: now the jobs finish
        sorasim_shared.control.advance_video(render.provider_video_id, 300)
    for render in renders:
        watch(page, render.pk)
    done = len(polls)
    page.wait_for_timeout(6000)  # three intervals more: nothing is in flight, so nothing may be asked

    assert len(polls) == done, [r.url for r in polls[done:]]
    assert done >= 3, [r.url for r in polls]
    # the browser's own times (this process hears of a request late, by a varying delay): when each request
    # started, and how long after its start its answer ended, in seconds
    starts = [r.timing["startTime"] / 1000 for r in polls]
    answers = [r.timing["responseEnd"] / 1000 for r in polls]
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 1.9, gaps  # one request per 2 s interval for the whole page, never one per card
    waits = [gap - answer for gap, answer in zip(gaps, answers, strict=False)]
    assert max(waits) < 5, (gaps, answers)  # ...and one in every interval (2 s, plus the answer's own time)
    # the first polls ask about all three cards in one request
    assert all(f"ids={r.pk}" in polls[0].url for r in renders), polls[0].url


def square_png(path):
    image = Image.new("RGB", (1000, 1000), (220, 0, 0))
    image.paste((0, 0, 220), (200, 0, 800, 1000))
    image.save(path, "PNG")
    return path


def test_a_wrong_size_reference_is_previewed_cropped_and_accepted(context_factory, team, tmp_path):
    page = context_factory(team.bob).new_page()
    page.goto(team.url)
    prompt = "The first frame comes alive: blue curtains open"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Size", exact=True).select_option("720x1280")
    page.get_by_label("Reference image (optional)").set_input_files(square_png(tmp_path / "square.png"))

    choice = page.locator("#crop-choice")
    expect(choice).to_be_visible()
    expect(choice).to_contain_text("The image is 1000x1000 and the video 720x1280")
    preview = page.locator("#crop-preview")
    assert preview.get_attribute("src").startswith("data:image/jpeg;base64,")
    expect(preview).not_to_have_js_property("naturalWidth", 0)  # the drawn preview, decoded
    width, height = preview.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert abs(width / height - 720 / 1280) < 0.01

    # submitted without the choice: refused inline, nothing typed is lost, the image is kept
    page.get_by_role("button", name="Submit render").click()
    expect(page.locator("#submit-form")).to_contain_text("Tick “Use the cropped image”")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(prompt)
    expect(page.locator("#submit-form")).to_contain_text("Kept from your last try: square.png")
    assert not Render.objects.exists()

    page.get_by_label("Use the cropped image").check()
    page.get_by_role("button", name="Submit render").click()
    expect(page.locator("#history-list > li", has_text=prompt)).to_be_visible()
    render = Render.objects.get()
    with Image.open(render.reference_image) as sent:
        assert sent.size == (720, 1280)
        assert sent.convert("RGB").getpixel((5, 640))[2] > 180  # the blue centre, not the red edge


def test_the_sizes_follow_the_model_and_the_estimate_follows_the_options(context_factory, team):
    page = context_factory(team.bob).new_page()
    page.goto(team.url)
    size = page.get_by_label("Size", exact=True)
    assert page.locator("#id_size option[value='1792x1024']").is_disabled()
    expect(page.locator("#estimate")).to_contain_text("$0.40")
    page.get_by_label("Model", exact=True).select_option("sora-2-pro")
    assert page.locator("#id_size option[value='1792x1024']").is_enabled()
    size.select_option("1792x1024")
    page.get_by_label("Length", exact=True).select_option("12")
    expect(page.locator("#estimate")).to_contain_text("$6.00")
    # back to sora-2: the large size is not offered any more, and the estimate is for a size it renders
    page.get_by_label("Model", exact=True).select_option("sora-2")
    expect(size).to_have_value("720x1280")
    expect(page.locator("#estimate")).to_contain_text("$1.20")


def test_the_star_and_the_filters_work_in_place(context_factory, team):
    first, second = (actions.submit(team.bob, team.project, prompt=p, model="sora-2", size="1280x720", seconds=4)
                     for p in ("A red fox in snow", "A lighthouse at night"))
    Render.objects.update(status=Status.COMPLETED)
    page = context_factory(team.alice).new_page()
    page.goto(team.url)
    star = page.locator(f"#render-{first.pk}").get_by_role("button", name="Favourite")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(page.locator(f"#render-{first.pk}").get_by_role("button", name="Favourite")).to_have_attribute(
        "aria-pressed", "true")
    assert Favourite.objects.filter(user=team.alice, render=first).exists()

    page.get_by_label("My favourites").check()
    expect(page.locator("#history-list > li")).to_have_count(1)
    assert "favourites=1" in page.url  # the filters are in the address, for reloads and links
    page.get_by_role("link", name="Clear").click()
    expect(page.locator("#history-list > li")).to_have_count(2)  # the cleared history is in place
    page.get_by_placeholder("Search prompts").fill("lighthouse")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#history-list > li")).to_have_count(1)
    expect(page.locator(f"#render-{second.pk}")).to_contain_text("A lighthouse at night")


def test_without_javascript_the_form_posts_and_redirects(context_factory, team):
    page = context_factory(team.bob, java_script_enabled=False).new_page()
    page.goto(team.url)
    page.get_by_label("Prompt", exact=True).fill("A tram crosses the bridge at noon, wide shot")
    page.get_by_role("button", name="Submit render").click()
    expect(page.locator("#messages")).to_contain_text("It is at the top of the history.")
    expect(page.locator("#history-list > li").first).to_contain_text("A tram crosses the bridge")
    assert page.url.endswith(team.url)


def test_an_upload_refused_in_the_browser_stores_nothing(context_factory, team, tmp_path, settings):
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"GIF89a" + b"\x00" * 400)
    page = context_factory(team.bob).new_page()
    page.goto(team.url)
    page.get_by_label("Prompt", exact=True).fill("Snow falls on a quiet street")
    page.get_by_label("Reference image (optional)").set_input_files(fake)
    page.get_by_role("button", name="Submit render").click()
    expect(page.locator("#submit-form")).to_contain_text("not a JPEG, PNG or WebP image, whatever its name says")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("Snow falls on a quiet street")
    assert not Render.objects.exists()

