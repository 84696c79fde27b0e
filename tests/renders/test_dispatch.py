"""The dispatcher turns due waits into tasks, once per lease; poll timing honours the hint within bounds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from renders import pipeline, timing
from renders.states import Status

pytestmark = [pytest.mark.django_db, pytest.mark.key(has_webhooks=True)]


@pytest.fixture
def sent(monkeypatch):
    calls = []
    for name in ("create_render", "poll_render", "download_render"):
        monkeypatch.setattr(f"renders.tasks.{name}.delay", lambda pk, due=None, name=name: calls.append((name, pk)))
    return calls


def test_it_sends_each_due_render_to_the_task_for_its_status(make_render, key, sent):
    past = timezone.now() - timedelta(seconds=1)
    waiting = make_render(Status.WAITING, next_attempt_at=past)
    polled = make_render(Status.IN_PROGRESS, api_key=key, provider_video_id="v1", next_attempt_at=past)
    storing = make_render(Status.DOWNLOADING, api_key=key, provider_video_id="v2", next_attempt_at=past)
    make_render(Status.QUEUED, api_key=key, provider_video_id="v3", next_attempt_at=timezone.now() + timedelta(60))
    make_render(Status.QUEUED, api_key=key, provider_video_id="v4", next_attempt_at=past, heartbeat_at=past)
    make_render(Status.COMPLETED, next_attempt_at=past)
    assert pipeline.dispatch_due() == 3
    assert sorted(sent) == sorted([("create_render", waiting.pk), ("poll_render", polled.pk),
                                   ("download_render", storing.pk)])
    assert pipeline.dispatch_due() == 0  # leased: not sent again until the lease runs out
    polled.refresh_from_db()
    assert polled.next_attempt_at > timezone.now()


def test_polls_follow_the_hint_within_bounds_and_are_rare_with_webhooks(make_render, key, settings):
    settings.RENDER_POLL_MIN_SECONDS, settings.RENDER_POLL_MAX_SECONDS = 5, 30
    settings.RENDER_POLL_INITIAL_SECONDS, settings.RENDER_POLL_BACKOFF = 10, 1.5
    settings.RENDER_POLL_WITH_WEBHOOKS_SECONDS = 300
    key.has_webhooks = False
    render = make_render(Status.QUEUED, api_key=key)
    assert timing.next_poll_delay(render, 12000) == 12
    assert timing.next_poll_delay(render, 500) == 5
    assert timing.next_poll_delay(render, 90000) == 30
    assert timing.next_poll_delay(render, None) == 10
    render.attempts = 2
    assert timing.next_poll_delay(render, None) == 22.5
    key.has_webhooks = True
    assert timing.next_poll_delay(render, 1000) == 300


def test_retry_delays_grow_with_jitter_up_to_the_cap(settings):
    settings.RENDER_RETRY_BASE_SECONDS, settings.RENDER_RETRY_MAX_SECONDS = 2, 60
    for attempt, cap in ((1, 2), (3, 8), (10, 60)):
        delays = {timing.retry_delay(attempt) for _ in range(20)}
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(delays) > 1
