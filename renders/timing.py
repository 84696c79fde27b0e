"""When the pipeline looks again: poll intervals (shorter while someone watches, renders.watching), backoff,
jitter, and the `due` a step's message carries.

Every wait is a `next_attempt_at` (never a long Celery countdown); these helpers only compute how far ahead.
"""

import random
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from renders import watching


def after(seconds):
    """The moment `seconds` from now."""
    return timezone.now() + timedelta(seconds=float(seconds))


def from_unix(value):
    """A provider's unix timestamp as an aware datetime (None for a missing one)."""
    return datetime.fromtimestamp(value, tz=UTC) if value else None


# --- poll timing ---------------------------------------------------------------------------------

def _bounded(value, low, high):
    return min(max(value, low), high)


def first_poll_delay(render):
    """Seconds from the create's answer to the first poll: the safety net with webhooks, else
    RENDER_POLL_INITIAL_SECONDS; never later than RENDER_WATCHED_POLL_MIN_SECONDS while someone watches it."""
    if render.api_key and render.api_key.has_webhooks:
        delay = settings.RENDER_POLL_WITH_WEBHOOKS_SECONDS
    else:
        delay = settings.RENDER_POLL_INITIAL_SECONDS
    if watching.is_watched(render):
        delay = min(delay, settings.RENDER_WATCHED_POLL_MIN_SECONDS)
    return delay


def next_poll_delay(render, poll_after_ms=None):
    """Seconds until the next poll. With webhooks: the rare safety net. Without: the provider's hint, within our own
    bounds (never sooner than MIN, never later than MAX); without a hint, our backoff from INITIAL.

    While someone watches the render (renders.watching), never later than the provider's hint bounded to
    RENDER_WATCHED_POLL_MIN..MAX (MIN without a hint), with or without webhooks: watching only brings polls sooner."""
    if render.api_key and render.api_key.has_webhooks:
        delay = settings.RENDER_POLL_WITH_WEBHOOKS_SECONDS
    else:
        hinted = poll_after_ms / 1000 if poll_after_ms else (
            settings.RENDER_POLL_INITIAL_SECONDS * settings.RENDER_POLL_BACKOFF ** render.attempts)
        delay = _bounded(hinted, settings.RENDER_POLL_MIN_SECONDS, settings.RENDER_POLL_MAX_SECONDS)
    if watching.is_watched(render):
        hinted = poll_after_ms / 1000 if poll_after_ms else settings.RENDER_WATCHED_POLL_MIN_SECONDS
        delay = min(delay, _bounded(hinted, settings.RENDER_WATCHED_POLL_MIN_SECONDS,
                                    settings.RENDER_WATCHED_POLL_MAX_SECONDS))
    return delay


# --- waits after faults and limits -----------------------------------------------------------------

def retry_delay(attempts):
    """Exponential backoff with full jitter for retries after provider faults: base * 2^n, capped."""
    cap = min(settings.RENDER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.RENDER_RETRY_MAX_SECONDS)
    return cap / 2 + random.uniform(0, cap / 2)


def jitter(wait):
    """The wait plus up to a tenth more: not every render (nor every worker) comes back at the same instant."""
    return wait + random.uniform(0, max(wait * 0.1, 0.2))


def slot_wait(wait, *keys):
    """Our own limiter's wait for a request slot, with a jitter of at most one slot's spacing (60 s / rpm): the slot
    frees at an exact time, and every second of lateness shifts the key's rolling minute and costs throughput."""
    rpm = max((key.rpm_limit for key in keys), default=0)
    return wait + random.uniform(0, 60 / rpm if rpm else 0.2)


# --- the `due` of a step's message -------------------------------------------------------------------

def due_token(when):
    """The `due` a render's step message carries: the next_attempt_at it was sent for (see pipeline.claim)."""
    return when.isoformat()


def parse_due(token):
    return datetime.fromisoformat(token)
