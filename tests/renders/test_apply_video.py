"""lifecycle.apply_video: provider news moves a render forward only, keeps the books, and enqueues the download."""

import pytest

from providers import limiter
from providers.client import Video, VideoError
from quotas.models import Reservation
from renders import actions, lifecycle, timing
from renders.models import Render
from renders.states import Status

pytestmark = [pytest.mark.django_db, pytest.mark.key(has_webhooks=True)]


@pytest.fixture
def sent(alice, project, key):
    """A submitted render the provider accepted, holding one of its key's job slots."""
    render = actions.submit(alice, project, prompt="a red fox in snow", model="sora-2", size="720x1280", seconds=4)
    assert limiter.acquire_job_slot(key.pk)
    Render.objects.filter(pk=render.pk).update(status=Status.QUEUED, api_key=key, provider_video_id="video_1",
                                               job_slot_held=True)
    render.refresh_from_db()
    return render


def video(status, progress=0, **kw):
    return Video(id="video_1", status=status, progress=progress, request_id="req_1", **kw)


def test_it_moves_forward_with_progress_and_an_event_naming_the_source(sent):
    assert lifecycle.apply_video(sent, video("in_progress", 40), source="webhook")
    sent.refresh_from_db()
    assert (sent.status, sent.progress) == (Status.IN_PROGRESS, 40)
    event = sent.events.last()
    assert (event.status_from, event.status_to, event.source, event.request_id) == (
        Status.QUEUED, Status.IN_PROGRESS, "webhook", "req_1")


def test_progress_only_grows(sent):
    lifecycle.apply_video(sent, video("in_progress", 60), source="poll")
    lifecycle.apply_video(sent, video("in_progress", 30), source="poll")
    sent.refresh_from_db()
    assert sent.progress == 60


def test_late_news_never_moves_a_render_backwards(sent):
    lifecycle.apply_video(sent, video("in_progress", 50), source="webhook")
    assert not lifecycle.apply_video(sent, video("queued", 0), source="poll")
    sent.refresh_from_db()
    assert (sent.status, sent.progress) == (Status.IN_PROGRESS, 50)


def test_completion_moves_to_downloading_frees_the_slot_and_enqueues_the_download(
        sent, key, django_capture_on_commit_callbacks, monkeypatch):
    downloads = []
    monkeypatch.setattr("renders.tasks.download_render.delay", lambda *a: downloads.append(a))
    assert limiter.jobs_in_flight(key.pk) == 1
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply_video(sent, video("completed", 100, expires_at=4102444800), source="webhook")
        lifecycle.apply_video(sent, video("completed", 100, expires_at=4102444800), source="poll")  # duplicate news
    sent.refresh_from_db()
    assert sent.status == Status.DOWNLOADING
    assert sent.provider_expires_at.year == 2100
    assert downloads == [(sent.pk, timing.due_token(sent.next_attempt_at))]  # fenced by its next_attempt_at
    assert limiter.jobs_in_flight(key.pk) == 0
    assert not sent.job_slot_held
    assert Reservation.objects.get(render=sent).state == Reservation.State.HELD  # settled only once stored


def test_a_moderated_job_fails_in_plain_words_and_is_refunded(sent, key):
    lifecycle.apply_video(sent, video("failed", error=VideoError("moderation_blocked", "blocked by policy")),
                         source="poll")
    sent.refresh_from_db()
    assert sent.status == Status.FAILED
    assert sent.error_code == "moderation_blocked"
    assert "safety system" in sent.error_message and "blocked by policy" in sent.error_message
    assert Reservation.objects.get(render=sent).state == Reservation.State.REFUNDED
    assert limiter.jobs_in_flight(key.pk) == 0


def test_an_unknown_provider_status_is_terminal(sent):
    # the client maps every provider's words onto the canonical ones; anything else reaching here is a fault
    lifecycle.apply_video(sent, video("exploded"), source="poll")
    sent.refresh_from_db()
    assert (sent.status, sent.error_code) == (Status.FAILED, "unknown_status")


def test_news_about_a_finished_render_changes_nothing(sent):
    Render.objects.filter(pk=sent.pk).update(status=Status.COMPLETED)
    assert not lifecycle.apply_video(sent, video("failed"), source="webhook")
    sent.refresh_from_db()
    assert sent.status == Status.COMPLETED


def test_only_one_of_two_racing_moves_wins(sent):
    other = Render.objects.get(pk=sent.pk)
    assert sent.move(Status.IN_PROGRESS, source="poll")
    # `other` still believes the render is queued: its conditional UPDATE re-reads and finds no legal move
    assert not other.move(Status.QUEUED, source="webhook")
    assert other.move(Status.FAILED, source="worker") is True  # a legal move from what it is now
    assert sent.events.filter(status_to=Status.IN_PROGRESS).count() == 1


def test_complete_render_settles_to_the_delivered_seconds(sent):
    from decimal import Decimal

    lifecycle.apply_video(sent, video("completed", 100), source="poll")
    assert lifecycle.complete_render(sent, Decimal("3.200"))
    assert not lifecycle.complete_render(sent, Decimal("3.200"))  # once
    sent.refresh_from_db()
    assert sent.status == Status.COMPLETED and sent.completed_at is not None
    assert sent.delivered_seconds == Decimal("3.200")
    assert str(sent.charged_usd) == "0.3200"
    assert Reservation.objects.get(render=sent).state == Reservation.State.SETTLED
