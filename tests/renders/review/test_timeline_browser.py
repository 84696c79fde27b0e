"""The render page's timeline in Chromium: its long ids wrap inside the card, so the page is never wider than the
viewport (on a desktop and on a phone), and a details part someone opened stays open while the page's live poll
brings new steps."""

import pytest

from renders.models import EventKind
from renders.states import Status
from tests.fixtures.browser import PHONE
from tests.fixtures.waits import wait_for
from tests.renders.review.conftest import url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIDEO_ID = "video_6505eb243633c1a530128ca57bd04c50dffc4eb11c3a8834" + "0d8355337760f50ab25398796ed62975"
REQUEST_ID = "req_" + "0d8355337760f50ab25398796ed62975" * 2
WIDTHS = "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.fixture
def rendering(review_render, key):
    """bob's render at the provider, with the events of its first steps (long ids, as a real provider's can be)."""
    render = review_render(Status.IN_PROGRESS, api_key=key, provider_video_id=VIDEO_ID, progress=40)
    render.events.create(kind=EventKind.SUBMITTED, status_to=Status.SUBMITTING, source="user",
                         message="Submitted by bob: sora-2, 1280x720, 4 s.")
    render.events.create(kind=EventKind.STATUS, status_from=Status.SUBMITTING, status_to=Status.SENDING,
                         source="worker", message=f"Sending the create to the provider with the key {key.name}.")
    render.note(EventKind.REQUEST, f"The provider accepted the job {VIDEO_ID}.", source="worker",
                request_id=REQUEST_ID)
    render.events.create(kind=EventKind.WEBHOOK, source="webhook",
                         message=f"Webhook video.in_progress received (webhook-id wh_{'9f' * 40}).")
    render.events.create(kind=EventKind.STATUS, status_from=Status.SENDING, status_to=Status.IN_PROGRESS,
                         source="webhook", request_id=REQUEST_ID, message="In progress at the provider (webhook).")
    return render


@pytest.mark.slow(40)  # the first of a run also starts Chromium
@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_the_timeline_fits_and_its_open_details_stay_open(context_factory, bob, rendering, viewport):
    page = context_factory(bob, viewport=viewport).new_page()
    page.goto(url("render_detail", rendering))
    timeline = page.locator("#timeline")
    assert [line.strip() for line in timeline.locator(".timeline-text").all_inner_texts()] == [
        "Submitted by bob.", "Sent to the provider.", "The provider started rendering."]
    assert not timeline.get_by_text(VIDEO_ID).is_visible()  # the ids wait in the collapsed details
    sent = timeline.locator("li", has_text="Sent to the provider.").locator("details")
    sent.locator("summary").click()
    assert timeline.get_by_text(REQUEST_ID).first.is_visible()
    width, viewport_width = page.evaluate(WIDTHS)
    assert width <= viewport_width, f"the page is {width} px wide in a {viewport_width} px viewport"
    box = timeline.bounding_box()
    assert box["x"] + box["width"] <= viewport_width

    # the provider finishes: the live poll brings the new step, and the part opened above is still open
    rendering.move(Status.DOWNLOADING, source="webhook", message="Finished at the provider (webhook); storing the "
                   "video.", request_id=REQUEST_ID)
    wait_for(lambda: "The provider finished the video." in timeline.inner_text(), timeout=20,
             what="the live poll to bring the new step")
    assert sent.evaluate("(part) => part.open")
    assert page.evaluate(WIDTHS)[0] <= viewport_width
