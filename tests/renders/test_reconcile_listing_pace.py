"""The reconciler lists a key's jobs less often while the same creates stay unknown and listings find nothing, and
at once again when something changes or a listing can send a render again. Rounds run on a clock the test moves."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from providers.models import KeyLimit
from renders import reconcile
from renders.models import Render
from renders.states import Status

pytestmark = [pytest.mark.django_db, pytest.mark.key(has_webhooks=True)]

ROUND = 30  # RENDER_RECONCILE_INTERVAL_SECONDS in these tests


@pytest.fixture
def clock(monkeypatch, settings):
    """Simulated time: clock.at(seconds) is that long after the start; clock.round(seconds) moves there and runs a
    round of the reconciler's unknown outcomes."""
    settings.RENDER_RECONCILE_INTERVAL_SECONDS = ROUND
    settings.RENDER_RECONCILE_AFTER_SECONDS = 10
    settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS = 3600  # no listing may send them again (unless a test says)
    settings.RENDER_RECONCILE_LIST_MAX_GAP_SECONDS = 120
    settings.PROVIDER_TIMEOUT_SECONDS = 30

    class Clock:
        start = timezone.now()
        now = start

        def at(self, seconds):
            return self.start + timedelta(seconds=seconds)

        def round(self, seconds):
            self.now = self.at(seconds)
            return reconcile.settle_unknown_outcomes()

    clock = Clock()
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock.now)
    return clock


@pytest.fixture
def listings(monkeypatch, clock):
    """The provider's lists of every key, with no job at all; listings[key id] holds the seconds (on the clock) when
    the key was listed."""
    listed = {}

    class EmptyList:
        def __init__(self, key):
            self.key = key

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def list(self, **kw):
            listed.setdefault(self.key.pk, []).append(round((clock.now - clock.start).total_seconds()))
            return iter(())

    monkeypatch.setattr("providers.models.ApiKey.client", lambda self, **kw: EmptyList(self))
    return listed


def lost_create(make_render, key, sent_at):
    """A render whose create went out at `sent_at` and whose answer never came (no job id, no worker holding it)."""
    return make_render(Status.SENDING, api_key=key, create_sent_at=sent_at, error_code="outcome_unknown")


def gaps(seconds):
    return [later - earlier for earlier, later in itertools.pairwise(seconds)]


def test_the_gap_between_listings_doubles_up_to_the_cap_while_nothing_changes(make_render, key, clock, listings):
    lost_create(make_render, key, clock.at(-10))
    for second in range(0, 600, ROUND):
        clock.round(second)
    assert listings[key.pk][0] == 0  # the first round that sees it lists at once
    assert gaps(listings[key.pk]) == [30, 60, 120, 120, 120, 120]  # 7 listings in 20 rounds
    pace = KeyLimit.objects.get(key=key)
    assert pace.listing_gap_seconds == 120 and pace.next_listing_at == clock.at(570 + 120)


def test_a_new_unknown_render_on_the_key_is_listed_at_once_and_the_gap_starts_over(make_render, key, clock,
                                                                                    listings):
    lost_create(make_render, key, clock.at(-10))
    for second in range(0, 240, ROUND):
        clock.round(second)
    assert listings[key.pk] == [0, 30, 90, 210]  # the next one would be at 330
    lost_create(make_render, key, clock.at(230))  # its job may be listed already: do not make it wait
    for second in range(240, 400, ROUND):
        clock.round(second)
    assert listings[key.pk] == [0, 30, 90, 210, 240, 270, 330]


def test_a_listing_still_comes_at_the_resend_moment_and_sends_the_render_again_on_time(
        submitted_render, key, clock, listings, settings):
    settings.RENDER_RECONCILE_RESEND_AFTER_SECONDS = 170
    Render.objects.filter(pk=submitted_render.pk).update(status=Status.SENDING, api_key=key,
                                                         create_sent_at=clock.at(-10), error_code="outcome_unknown")
    for second in range(0, 180, ROUND):
        clock.round(second)
    submitted_render.refresh_from_db()
    assert submitted_render.status == Status.SENDING  # 160 s after its create: not yet
    assert listings[key.pk] == [0, 30, 90]
    # the back-off alone would list next at 210; the render may be sent again from 170 s after its create (160 here)
    assert KeyLimit.objects.get(key=key).next_listing_at == clock.at(210)
    assert clock.round(180) == 1
    submitted_render.refresh_from_db()
    assert submitted_render.status == Status.WAITING and submitted_render.attempts == 1
    assert listings[key.pk] == [0, 30, 90, 180]
    assert KeyLimit.objects.get(key=key).next_listing_at is None  # it settled one: the next listing is not held back


def test_two_keys_back_off_each_on_its_own(make_render, make_key, key, clock, listings):
    other = make_key("other", secret="sk-keyadmin-0002", has_webhooks=True)
    lost_create(make_render, key, clock.at(-10))
    lost_create(make_render, other, clock.at(80))
    for second in range(0, 360, ROUND):
        clock.round(second)
    assert listings[key.pk] == [0, 30, 90, 210, 330]
    assert listings[other.pk] == [90, 120, 180, 300]


def test_a_key_with_no_render_waiting_is_not_listed(make_render, key, clock, listings):
    lost_create(make_render, key, clock.at(-5))  # not RENDER_RECONCILE_AFTER_SECONDS old yet
    clock.round(0)
    assert key.pk not in listings
    clock.round(30)
    assert listings[key.pk] == [30]
