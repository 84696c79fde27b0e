"""The "watched" mark and the poll schedule it sets: a render a page shows in flight is polled at the provider's
hint bounded to a few seconds, an unwatched one keeps webhooks plus the safety net, the mark expires, and a
safety-net poll is pulled forward once someone watches (never a backoff or a held render). The pipeline's poll
runs in-process against a real sorasim over HTTP; the pages' polls through the Django test client."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from renders import pipeline, timing, watching
from renders.models import Render
from renders.states import Status
from renders.views.render import time_left
from tests.fixtures.waits import wait_for
from tests.fixtures.world import submit

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def webhook_key(make_key):
    return make_key("hooks", has_webhooks=True)


@pytest.fixture
def polled_key(make_key):
    return make_key("polled", secret="sk-keyadmin-0002", has_webhooks=False)


@pytest.fixture
def production_polls(settings):
    """The production cadence, whatever the environment shrank."""
    settings.RENDER_POLL_WITH_WEBHOOKS_SECONDS = 300
    settings.RENDER_POLL_INITIAL_SECONDS = 10
    settings.RENDER_POLL_MIN_SECONDS = 5
    settings.RENDER_POLL_MAX_SECONDS = 30
    settings.RENDER_WATCHED_SECONDS = 15
    settings.RENDER_WATCHED_POLL_MIN_SECONDS = 2
    settings.RENDER_WATCHED_POLL_MAX_SECONDS = 5
    settings.RENDER_RETRY_MAX_SECONDS = 60
    settings.RENDER_DISPATCH_LEASE_SECONDS = 60
    settings.RENDER_KEY_RETRY_SECONDS = 15


class Window:
    """The instants around a step: `next_attempt_at` set to `seconds` from any moment of the step lies in
    [start + seconds, end + seconds], whatever the machine's load."""

    def __enter__(self):
        self.start = timezone.now()
        return self

    def __exit__(self, *exc):
        self.end = timezone.now()

    def holds(self, render, seconds):
        render.refresh_from_db()
        ahead = timedelta(seconds=seconds)
        return self.start + ahead <= render.next_attempt_at <= self.end + ahead


# --- the schedule ----------------------------------------------------------------------------------------------

def test_a_watched_render_is_polled_at_the_providers_hint_within_a_few_seconds(make_render, webhook_key,
                                                                             production_polls):
    render = make_render(Status.IN_PROGRESS, api_key=webhook_key, progress=30)
    assert timing.next_poll_delay(render, 20_000) == 300  # nobody watching: webhooks and the safety net
    assert timing.first_poll_delay(render) == 300

    watching.watch([render])

    assert watching.is_watched(render)
    assert timing.next_poll_delay(render, 20_000) == 5  # the hint, bounded above
    assert timing.next_poll_delay(render, 3_500) == 3.5  # the hint itself
    assert timing.next_poll_delay(render, 200) == 2  # ...and below
    assert timing.next_poll_delay(render, None) == 2  # no hint: the lower bound
    assert timing.first_poll_delay(render) == 2


def test_watching_only_ever_brings_a_poll_sooner(make_render, polled_key, production_polls, settings):
    render = make_render(Status.IN_PROGRESS, api_key=polled_key, progress=30)
    assert timing.next_poll_delay(render, 20_000) == 20  # polled key, unwatched: the hint within 5..30
    watching.watch([render])
    assert timing.next_poll_delay(render, 20_000) == 5
    # a cadence already faster than the watched bounds (as in the test suite's shrunk settings) stays as it is
    settings.RENDER_POLL_MIN_SECONDS, settings.RENDER_POLL_MAX_SECONDS = 0.5, 1
    assert timing.next_poll_delay(render, 20_000) == 1


@pytest.mark.timing("a mark of 1 s has 15 s to expire")
def test_the_mark_expires_and_the_safety_net_comes_back(make_render, webhook_key, production_polls, settings):
    settings.RENDER_WATCHED_SECONDS = 1
    render = make_render(Status.QUEUED, api_key=webhook_key)
    watching.watch([render])
    assert timing.next_poll_delay(render, 20_000) == 5

    wait_for(lambda: not watching.is_watched(render), timeout=15, what="the watched mark to expire")
    assert timing.next_poll_delay(render, 20_000) == 300


def test_only_renders_in_flight_are_marked_and_marks_name_one_render(make_render, webhook_key):
    done = make_render(Status.COMPLETED, api_key=webhook_key, progress=100)
    running = make_render(Status.IN_PROGRESS, api_key=webhook_key)
    watching.watch([done, running])
    assert not watching.is_watched(done) and watching.is_watched(running)
    # a render with the same id but another creation instant (a database whose ids started over) is not watched
    stranger = Render(pk=running.pk, created_at=running.created_at + timedelta(microseconds=1))
    assert not watching.is_watched(stranger)
    watching.forget(running)
    assert not watching.is_watched(running)


# --- pulling the safety net forward ----------------------------------------------------------------------------

def test_watching_pulls_a_safety_net_poll_forward_once(make_render, webhook_key, production_polls):
    render = make_render(Status.QUEUED, api_key=webhook_key, next_attempt_at=timing.after(290))

    with Window() as step:
        assert watching.watch([render]) == 1
    assert step.holds(render, 0)  # due now: the dispatcher sends the poll at its next tick
    assert watching.watch([render]) == 0  # the next look changes nothing


def test_a_backoff_a_held_render_and_a_render_not_at_the_provider_are_left_alone(make_render, webhook_key,
                                                                               production_polls):
    backoff = make_render(Status.IN_PROGRESS, api_key=webhook_key, next_attempt_at=timing.after(55))
    held = make_render(Status.IN_PROGRESS, api_key=webhook_key, next_attempt_at=timing.after(290),
                       heartbeat_at=timezone.now())
    waiting = make_render(Status.WAITING, next_attempt_at=timing.after(290))
    storing = make_render(Status.DOWNLOADING, api_key=webhook_key, next_attempt_at=timing.after(290))
    before = {r.pk: r.next_attempt_at for r in (backoff, held, waiting, storing)}

    assert watching.watch([backoff, held, waiting, storing]) == 0
    # a fault's backoff is never cut short by someone watching; nor the others
    assert dict(Render.objects.filter(pk__in=before).values_list("pk", "next_attempt_at")) == before
    assert all(watching.is_watched(r) for r in (backoff, held, waiting, storing))  # all on screen, all marked


def test_a_remix_shown_with_deferred_fields_is_pulled_forward_by_the_database_check(make_render, webhook_key,
                                                                                   production_polls):
    render = make_render(Status.IN_PROGRESS, api_key=webhook_key, next_attempt_at=timing.after(290))
    shown = Render.objects.only("id", "status", "created_at").get(pk=render.pk)  # as the lineage loads it
    with Window() as step:
        assert watching.watch([shown]) == 1
    assert step.holds(render, 0)


# --- the worker's poll against sorasim ----------------------------------------------------------------------

@pytest.mark.sim_key(has_webhooks=True)
def test_the_poll_follows_the_hint_while_watched_and_the_safety_net_when_not(alice, project, sim_key,
                                                                          production_polls):
    sim_key.control.patch_faults(job_seconds=60)  # sorasim's hint: the time left, at most 20 s
    render = submit(alice, project)
    with Window() as step:
        pipeline.send_create(render.pk)
    assert step.holds(render, 300)  # accepted, nobody watching: the safety net

    assert watching.watch([render]) == 1  # a page shows it: the safety net is pulled forward
    with Window() as step:
        pipeline.poll(render.pk)
    assert step.holds(render, 5)  # the hint (~55 s left, which sorasim caps at 20 s), bounded to 5 s
    assert render.status in (Status.QUEUED, Status.IN_PROGRESS)
    assert sim_key.control.counters(sim_key.secret)["requests"] == {"POST /v1/videos 200": 1,
                                                                      "GET /v1/videos/{video_id} 200": 1}

    watching.forget(render)  # the page was closed
    Render.objects.filter(pk=render.pk).update(next_attempt_at=timezone.now())
    with Window() as step:
        pipeline.poll(render.pk)
    assert step.holds(render, 300)


# --- the pages' polls mark what they show -------------------------------------------------------------------

def test_the_studio_in_flight_poll_marks_its_cards_watched(client, alice, project, make_render, webhook_key,
                                                          production_polls):
    running = make_render(Status.IN_PROGRESS, api_key=webhook_key, progress=42, next_attempt_at=timing.after(290))
    client.force_login(alice)
    url = reverse("studio_inflight", kwargs={"project_id": project.pk})
    with Window() as step:
        response = client.get(url, {"ids": [running.pk]}, **HTMX)
    assert response.status_code == 200
    assert watching.is_watched(running) and step.holds(running, 0)
    assert 'value="42"' in response.content.decode()


def test_the_render_page_live_poll_marks_it_watched_and_swaps_badge_progress_and_time_left_together(
        client, alice, charlie, project, make_render, webhook_key, production_polls):
    render = make_render(Status.IN_PROGRESS, api_key=webhook_key, progress=25, next_attempt_at=timing.after(290),
                         create_sent_at=timezone.now() - timedelta(seconds=20))
    url = reverse("render_detail", kwargs={"project_id": project.pk, "render_id": render.pk})

    client.force_login(charlie)  # an outsider: 404, and nothing is marked
    assert client.get(url, {"live": 1, "shown": "in_progress"}, **HTMX).status_code == 404
    assert not watching.is_watched(render)

    client.force_login(alice)
    with Window() as step:
        body = client.get(url, {"live": 1, "shown": "queued"}, **HTMX).content.decode()
    assert watching.is_watched(render) and step.holds(render, 0)
    # the title's badge, the status card (badge, progress, time left) come back together, out of band
    assert '<span id="render-title-badge" class="badge badge-in_progress" hx-swap-oob="true">In progress</span>' \
        in body
    assert 'id="render-status"' in body and 'value="25"' in body
    left = re.search(r"<dt>Time left</dt><dd[^>]*>About (\d+) s</dd>", body)
    assert left and 60 <= int(left.group(1)) <= 90  # 20 s (and the request's own time) for 25 %: about 60 s to go


def test_the_time_left_follows_the_progress(make_render):
    sent = timezone.now()
    render = make_render(Status.IN_PROGRESS, progress=40, create_sent_at=sent)
    assert time_left(render, sent + timedelta(seconds=80)) == "About 2 min"  # 80 s for 40 %: 120 s to go
    render.progress = 90
    assert time_left(render, sent + timedelta(seconds=90)) == "About 10 s"
    render.progress = 0
    assert time_left(render, sent + timedelta(seconds=5)) == ""  # nothing to go by yet
    assert time_left(make_render(Status.QUEUED)) == "Waiting in the provider's queue"
    assert time_left(make_render(Status.DOWNLOADING, progress=100)) == "Finished at the provider; storing the video"
    assert time_left(make_render(Status.SUBMITTING)) == ""
